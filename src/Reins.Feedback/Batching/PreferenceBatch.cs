namespace Reins.Feedback.Batching;

/// <summary>
/// A preference batch laid out as TRL's <c>concatenated_forward</c> does, so DPO scores both sides in one forward
/// pass: rows [0, Pairs) are prompt+chosen, rows [Pairs, 2·Pairs) prompt+rejected, all padded to one length.
/// </summary>
/// <param name="Pairs">Preference pairs.</param>
/// <param name="Tokens">2·<paramref name="Pairs"/> rows, labels on the completions only.</param>
public sealed record PreferenceBatch(int Pairs, TokenBatch Tokens)
{
    /// <summary>The row of pair <paramref name="pair"/>'s chosen sequence.</summary>
    public int ChosenRow(int pair) => pair;

    /// <summary>The row of pair <paramref name="pair"/>'s rejected sequence.</summary>
    public int RejectedRow(int pair) => Pairs + pair;
}
