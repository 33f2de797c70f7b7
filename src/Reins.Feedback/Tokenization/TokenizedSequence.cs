namespace Reins.Feedback.Tokenization;

/// <summary>
/// One token sequence and its labels, aligned position by position as in Hugging Face: <c>Labels[t]</c> is
/// <c>InputIds[t]</c> where the loss applies and <see cref="IgnoreIndex"/> (−100) where it does not (prompt, template, padding).
/// Process-reward sequences (<see cref="DatasetTokenizer.Stepwise"/>) hold a step's class (0 or 1) instead of an id.
/// </summary>
/// <param name="InputIds">Token ids.</param>
/// <param name="Labels">Per-position targets, same length.</param>
public sealed record TokenizedSequence(int[] InputIds, int[] Labels)
{
    /// <summary>The label of positions the loss skips (PyTorch's cross-entropy <c>ignore_index</c>).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>Tokens.</summary>
    public int Length => InputIds.Length;

    /// <summary>Whether any position carries a label: a sequence without one teaches nothing.</summary>
    public bool HasLossTokens => Array.Exists(Labels, label => label != IgnoreIndex);
}
