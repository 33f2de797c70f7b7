using System.Text;

namespace Reins.Models.Tokenizers;

/// <summary>
/// tokenizer.json's "normalizer": rewrites each stretch of text between added tokens before pre-tokenization.
/// The variants here are the ones the GPT-2, Llama and Qwen families use.
/// </summary>
internal abstract class Normalizer
{
    public abstract string Normalize(string text);
}

internal sealed class SequenceNormalizer(IReadOnlyList<Normalizer> steps) : Normalizer
{
    public override string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }
}

/// <summary>NFC, NFD, NFKC or NFKD, with our own tables (.NET's string.Normalize does nothing under invariant globalization).</summary>
internal sealed class UnicodeFormNormalizer(NormalizationForm form) : Normalizer
{
    public override string Normalize(string text) => UnicodeNormalization.Normalize(text, form);
}

internal sealed class LowercaseNormalizer : Normalizer
{
    public override string Normalize(string text) => text.ToLowerInvariant();
}

/// <summary>"Prepend": SentencePiece's dummy prefix (▁) in front of every non-empty stretch.</summary>
internal sealed class PrependNormalizer(string prefix) : Normalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

internal sealed class ReplaceNormalizer(SplitPattern pattern, string content) : Normalizer
{
    public override string Normalize(string text)
    {
        StringBuilder? result = null;
        int at = 0;
        while (at < text.Length && pattern.NextMatch(text, at, out int start, out int length))
        {
            (result ??= new StringBuilder(text.Length + 16)).Append(text, at, start - at).Append(content);
            at = start + length;
        }
        return result is null ? text : result.Append(text, at, text.Length - at).ToString();
    }
}

internal sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override string Normalize(string text) => (left, right) switch
    {
        (true, true) => text.Trim(),
        (true, false) => text.TrimStart(),
        (false, true) => text.TrimEnd(),
        _ => text,
    };
}
