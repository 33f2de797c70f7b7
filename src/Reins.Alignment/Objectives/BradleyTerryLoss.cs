using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>
/// The pairwise reward-model loss of InstructGPT (Ouyang et al. 2022): −log σ(r_chosen − r_rejected − margin), with
/// optional label smoothing ε for flipped labels, −(1−ε)·log σ(d) − ε·log σ(−d), and TRL's reward-centring term
/// c·mean((r_chosen + r_rejected)²) (Eisenstein et al. 2023) that pins the rewards' mean near zero.
/// </summary>
public static class BradleyTerryLoss
{
    /// <summary>Mean loss over the batch; rewards are [B] (one scalar per sequence), margins [B] or empty.</summary>
    public static Tensor Compute(Tensor chosen, Tensor rejected, ReadOnlySpan<float> margins = default, float labelSmoothing = 0f, float centerRewardsCoefficient = 0f)
    {
        if (chosen.Size != rejected.Size)
            throw new ArgumentException($"bradley_terry: {chosen.Size} chosen and {rejected.Size} rejected rewards.");
        if (!margins.IsEmpty && margins.Length != chosen.Size)
            throw new ArgumentException($"bradley_terry: {margins.Length} margins for {chosen.Size} pairs.");
        if (labelSmoothing is < 0f or >= 0.5f)
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "bradley_terry: label smoothing must be in [0, 0.5).");
        var d = Ops.Reshape(chosen, chosen.Size) - Ops.Reshape(rejected, rejected.Size);
        if (!margins.IsEmpty) d = d - Tensor.FromArray(margins, margins.Length);
        var loss = -Ops.Mean(Ops.LogSigmoid(d));
        if (labelSmoothing > 0) loss = (1 - labelSmoothing) * loss - labelSmoothing * Ops.Mean(Ops.LogSigmoid(-d));
        if (centerRewardsCoefficient > 0)
            loss = loss + centerRewardsCoefficient * Ops.Mean(Ops.Pow(Ops.Reshape(chosen, chosen.Size) + Ops.Reshape(rejected, rejected.Size), 2));
        return loss;
    }
}
