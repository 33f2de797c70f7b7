using Reins.Models.Transformers;

namespace Reins.Feedback.Batching;

/// <summary>A supervised fine-tuning batch: padded sequences, or packed blocks with per-document positions.</summary>
/// <param name="Tokens">Ids, attention mask and labels.</param>
/// <param name="PositionIds">For packed blocks, [rows, length] positions restarting at 0 for each document; null when padded (positions follow the mask).</param>
/// <param name="DocumentIds">For packed blocks, [rows, length] the source document of each token (−1 on padding), so attention can stay within a document; null when padded.</param>
public sealed record SftBatch(TokenBatch Tokens, int[]? PositionIds = null, int[]? DocumentIds = null)
{
    /// <summary>The rows as a model reads them: ids, mask and, for packed blocks, positions and documents.</summary>
    public ModelInput Input => Tokens.Input with { PositionIds = PositionIds, DocumentIds = DocumentIds };
}
