namespace Reins.Feedback.Batching;

/// <summary>A batch for a multi-attribute regression reward model: prompt+response rows and their ratings.</summary>
/// <param name="Tokens">The sequences; the score is read at <see cref="TokenBatch.LastTokenIndex"/>.</param>
/// <param name="Attributes">Attribute names, in target order.</param>
/// <param name="Targets">[rows, attributes] ratings.</param>
public sealed record RatingBatch(TokenBatch Tokens, IReadOnlyList<string> Attributes, float[] Targets);
