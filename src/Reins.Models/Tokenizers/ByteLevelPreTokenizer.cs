using System.Text;

namespace Reins.Models.Tokenizers;

/// <summary>
/// tokenizer.json's "ByteLevel" pre-tokenizer: optionally splits with GPT-2's regex, then spells each piece's
/// UTF-8 bytes in <see cref="ByteLevelAlphabet"/> characters.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public override void Apply(ReadOnlySpan<char> piece, bool atStart, PieceBuffer output)
    {
        if (addPrefixSpace && !piece.StartsWith(' '))
        {
            Span<char> prefixed = piece.Length < 512 ? stackalloc char[piece.Length + 1] : new char[piece.Length + 1];
            prefixed[0] = ' ';
            piece.CopyTo(prefixed[1..]);
            Split(prefixed, output);
        }
        else Split(piece, output);
    }

    private void Split(ReadOnlySpan<char> piece, PieceBuffer output)
    {
        if (!useRegex)
        {
            Map(piece, output);
            return;
        }
        for (int at = 0; at < piece.Length;)
        {
            int length = CodePointPatternScanner.Gpt2.MatchLength(piece, at);
            Map(piece.Slice(at, length), output);
            at += length;
        }
    }

    public static void Map(ReadOnlySpan<char> text, PieceBuffer output)
    {
        var alphabet = ByteLevelAlphabet.ByteToChar;
        var target = output.Reserve(text.Length * 3);
        if (!Ascii.IsValid(text))
        {
            Span<byte> bytes = text.Length <= 256 ? stackalloc byte[text.Length * 3] : new byte[text.Length * 3];
            // A lone surrogate becomes U+FFFD's bytes, as the reference implementations' UTF-8 encoders do.
            int count = Encoding.UTF8.GetBytes(text, bytes);
            for (int i = 0; i < count; i++) target[i] = alphabet[bytes[i]];
            output.Commit(count);
            return;
        }
        for (int i = 0; i < text.Length; i++) target[i] = alphabet[text[i]];
        output.Commit(text.Length);
    }
}
