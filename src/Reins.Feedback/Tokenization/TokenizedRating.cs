namespace Reins.Feedback.Tokenization;

/// <summary>A tokenized ratings record: prompt+response and the attribute values a regression reward model predicts.</summary>
/// <param name="Sequence">The sequence (labels mark the response).</param>
/// <param name="Attributes">The attribute names, in target order.</param>
/// <param name="Targets">One value per attribute.</param>
public sealed record TokenizedRating(TokenizedSequence Sequence, IReadOnlyList<string> Attributes, float[] Targets);
