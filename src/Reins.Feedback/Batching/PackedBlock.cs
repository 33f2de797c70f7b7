namespace Reins.Feedback.Batching;

/// <summary>One fixed-length block of packed documents; padding (at the end of a last, partial block) has document id −1.</summary>
/// <param name="InputIds">Token ids.</param>
/// <param name="Labels">Labels, −100 at each document's first position in the block (nothing in the block predicts it) and on padding.</param>
/// <param name="PositionIds">Positions restarting at 0 where each document (or the rest of a document cut by the previous block) begins.</param>
/// <param name="DocumentIds">Index of each token's document in the packer's input, −1 on padding.</param>
public sealed record PackedBlock(int[] InputIds, int[] Labels, int[] PositionIds, int[] DocumentIds);
