namespace Reins.Feedback.Tokenization;

/// <summary>A tokenized KTO record: prompt+completion labelled on the completion, and whether it is desirable.</summary>
/// <param name="Sequence">The sequence.</param>
/// <param name="Desirable">The record's label.</param>
public sealed record TokenizedUnpaired(TokenizedSequence Sequence, bool Desirable);
