namespace Reins.Feedback.Tokenization;

/// <summary>A tokenized preference: prompt+chosen and prompt+rejected, each labelled on its completion only.</summary>
/// <param name="Chosen">The preferred sequence.</param>
/// <param name="Rejected">The dispreferred sequence.</param>
public sealed record TokenizedPair(TokenizedSequence Chosen, TokenizedSequence Rejected);
