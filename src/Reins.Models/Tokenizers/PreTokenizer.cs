namespace Reins.Models.Tokenizers;

/// <summary>
/// One step of a pre-tokenizer chain (tokenizer.json's "pre_tokenizer", flattened when it is a Sequence):
/// turns each piece into zero or more smaller or rewritten pieces.
/// </summary>
internal abstract class PreTokenizer
{
    /// <param name="piece">The piece to process.</param>
    /// <param name="atStart">Whether the piece begins at the start of the input (Metaspace's prepend_scheme "first").</param>
    /// <param name="output">Where the resulting pieces go.</param>
    public abstract void Apply(ReadOnlySpan<char> piece, bool atStart, PieceBuffer output);

    /// <summary>Runs <paramref name="steps"/> over <paramref name="text"/>; returns whichever buffer holds the final pieces.</summary>
    public static PieceBuffer Run(IReadOnlyList<PreTokenizer> steps, ReadOnlySpan<char> text, bool atStart, PieceBuffer a, PieceBuffer b)
    {
        a.Clear();
        a.Add(text);
        foreach (var step in steps)
        {
            b.Clear();
            for (int i = 0; i < a.Count; i++) step.Apply(a[i], atStart && i == 0, b);
            (a, b) = (b, a);
        }
        return a;
    }
}

/// <summary>How a Split pre-tokenizer treats the matched delimiters (tokenizers' SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>tokenizer.json's "Split": cuts at the matches of a pattern.</summary>
internal sealed class SplitPreTokenizer(SplitPattern pattern, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public override void Apply(ReadOnlySpan<char> piece, bool atStart, PieceBuffer output)
    {
        var pending = new Pending();
        int at = 0;
        while (at < piece.Length)
        {
            if (!pattern.NextMatch(piece, at, out int start, out int length)) (start, length) = (piece.Length, 0);
            if (start > at) Segment(piece, output, ref pending, at, start, isMatch: invert);
            if (length > 0) Segment(piece, output, ref pending, start, start + length, isMatch: !invert);
            at = start + length;
        }
        output.Add(piece[pending.Start..pending.End]);
    }

    // A pending piece is held back while the next segment may still be merged into it.
    private struct Pending
    {
        public int Start, End;
        public bool IsMatch;
    }

    private void Segment(ReadOnlySpan<char> piece, PieceBuffer output, ref Pending pending, int start, int end, bool isMatch)
    {
        if (isMatch && behavior == SplitBehavior.Removed)
        {
            output.Add(piece[pending.Start..pending.End]);
            pending = new Pending { Start = end, End = end };
            return;
        }
        // A delimiter joins the neighbouring content, never another delimiter (except with Contiguous).
        bool merge = behavior switch
        {
            SplitBehavior.MergedWithPrevious => isMatch && !pending.IsMatch,
            SplitBehavior.MergedWithNext => pending.IsMatch && !isMatch,
            SplitBehavior.Contiguous => isMatch && pending.IsMatch,
            _ => false,
        };
        if (!merge)
        {
            output.Add(piece[pending.Start..pending.End]);
            pending.Start = start;
        }
        pending.End = end;
        pending.IsMatch = isMatch;
    }
}
