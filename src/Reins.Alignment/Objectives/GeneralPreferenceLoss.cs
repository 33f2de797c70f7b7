using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>
/// The general preference model's loss (Zhang et al. 2024): −log σ((s(y_c, y_r) − margin)/τ), where s is the
/// skew-symmetric score of the two responses' embeddings (GeneralPreferenceModel.SkewScores). It is Bradley–Terry's
/// loss on a score that is antisymmetric by construction instead of a difference of two scalars.
/// </summary>
public static class GeneralPreferenceLoss
{
    /// <summary>Mean loss over the batch of skew scores [B]; margins [B] or empty.</summary>
    public static Tensor Compute(Tensor scores, float tau, ReadOnlySpan<float> margins = default)
    {
        if (!(tau > 0)) throw new ArgumentOutOfRangeException(nameof(tau), tau, "general_preference: tau must be positive.");
        if (!margins.IsEmpty && margins.Length != scores.Size)
            throw new ArgumentException($"general_preference: {margins.Length} margins for {scores.Size} pairs.");
        var s = margins.IsEmpty ? scores : scores - Tensor.FromArray(margins, margins.Length);
        return -Ops.Mean(Ops.LogSigmoid(Ops.MulScalar(s, 1f / tau)));
    }
}
