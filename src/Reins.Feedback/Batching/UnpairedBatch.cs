namespace Reins.Feedback.Batching;

/// <summary>A KTO batch: prompt+completion rows labelled on the completion, and whether each is desirable.</summary>
/// <param name="Tokens">The sequences.</param>
/// <param name="Desirable">One label per row.</param>
public sealed record UnpairedBatch(TokenBatch Tokens, bool[] Desirable);
