namespace Reins.Models.Tokenizers;

/// <summary>
/// An entry of tokenizer.json's "added_tokens": text that is never split and always maps to one id.
/// </summary>
/// <param name="Special">Removed by decoding with skipSpecialTokens.</param>
/// <param name="LStrip">Swallows the whitespace before it.</param>
/// <param name="RStrip">Swallows the whitespace after it.</param>
/// <param name="SingleWord">Matches only where it is not inside a word.</param>
/// <param name="Normalized">Matched in the normalized text rather than the raw input.</param>
internal sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false, bool SingleWord = false, bool Normalized = false);
