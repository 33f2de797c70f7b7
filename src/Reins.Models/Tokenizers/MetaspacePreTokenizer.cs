namespace Reins.Models.Tokenizers;

/// <summary>When Metaspace puts its replacement character in front of a piece.</summary>
internal enum PrependScheme { Always, First, Never }

/// <summary>
/// tokenizer.json's "Metaspace" (SentencePiece style): spaces become ▁, a ▁ is prepended per
/// <see cref="PrependScheme"/>, and with split=true each ▁ starts a new piece.
/// </summary>
internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme prependScheme, bool split) : PreTokenizer
{
    public override void Apply(ReadOnlySpan<char> piece, bool atStart, PieceBuffer output)
    {
        bool prepend = !piece.StartsWith(' ') && (prependScheme == PrependScheme.Always || prependScheme == PrependScheme.First && atStart);
        Span<char> text = piece.Length < 512 ? stackalloc char[piece.Length + 1] : new char[piece.Length + 1];
        int length = 0;
        if (prepend) text[length++] = replacement;
        foreach (char c in piece) text[length++] = c == ' ' ? replacement : c;
        text = text[..length];
        if (!split)
        {
            output.Add(text);
            return;
        }
        int start = 0;
        for (int i = 1; i < text.Length; i++)
            if (text[i] == replacement) { output.Add(text[start..i]); start = i; }
        output.Add(text[start..]);
    }
}
