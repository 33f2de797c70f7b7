namespace Reins.Feedback.Batching;

/// <summary>Packed blocks and what packing had to cut.</summary>
/// <param name="Blocks">The blocks, each <see cref="PackingOptions.BlockSize"/> long.</param>
/// <param name="TruncatedDocuments">Documents longer than a block (best-fit decreasing only), cut to the block size.</param>
/// <param name="DroppedTokens">Tokens those cuts removed.</param>
public sealed record PackingResult(IReadOnlyList<PackedBlock> Blocks, int TruncatedDocuments, int DroppedTokens);
