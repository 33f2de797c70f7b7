using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>What the clipped objective did on one micro-batch, over its kept tokens.</summary>
/// <param name="ApproxKl">½·mean((log π − log π_old)²), TRL's policy/approxkl.</param>
/// <param name="ClipFraction">Share of tokens whose clipped term is the active one (their gradient is zero).</param>
/// <param name="LowClipFraction">Share with ρ &lt; 1 − ε_low and A &lt; 0.</param>
/// <param name="HighClipFraction">Share with ρ &gt; 1 + ε_high and A &gt; 0.</param>
/// <param name="RatioMean">Mean of ρ.</param>
/// <param name="RatioVariance">Variance of ρ.</param>
/// <param name="LossMean">Mean per-token surrogate loss.</param>
public sealed record SurrogateStatistics(double ApproxKl, double ClipFraction, double LowClipFraction, double HighClipFraction,
    double RatioMean, double RatioVariance, double LossMean);

/// <summary>
/// PPO's clipped surrogate (Schulman et al. 2017, Eq. 7) per token: ℓ = −min(ρ·A, clip(ρ, 1 − ε_low, 1 + ε_high)·A),
/// ρ = exp(log π − log π_old). With ε_low = ε_high it is PPO's; DAPO (Yu et al. 2025) raises ε_high ("clip-higher").
/// A token whose ratio has left the range in the direction its advantage pushes gets no gradient.
/// </summary>
public static class ClippedSurrogate
{
    /// <summary>Per-token losses [n] (differentiable through <paramref name="logProbs"/>) and their statistics under <paramref name="mask"/>.</summary>
    public static (Tensor Loss, SurrogateStatistics Stats) Compute(Tensor logProbs, float[] oldLogProbs, float[] advantages, float epsLow, float epsHigh, float[] mask)
    {
        int n = oldLogProbs.Length;
        var ratio = Ops.Exp(logProbs - Tensor.FromArray(oldLogProbs, n));
        var a = Tensor.FromArray(advantages, n);
        var unclipped = ratio * a;
        var clipped = Ops.Clamp(ratio, 1 - epsLow, 1 + epsHigh) * a;
        // Minimum sends the gradient to the smaller term; inside the range both are equal and each takes half of it.
        var loss = -Ops.Minimum(unclipped, clipped);

        ReadOnlySpan<float> lp = logProbs.Span, r = ratio.Span, u = unclipped.Span, c = clipped.Span;
        var squaredLogRatio = new float[n];
        var active = new float[n];
        var low = new float[n];
        var high = new float[n];
        for (int i = 0; i < n; i++)
        {
            float logRatio = lp[i] - oldLogProbs[i];
            squaredLogRatio[i] = logRatio * logRatio;
            active[i] = c[i] < u[i] ? 1 : 0;
            low[i] = r[i] < 1 - epsLow && advantages[i] < 0 ? 1 : 0;
            high[i] = r[i] > 1 + epsHigh && advantages[i] > 0 ? 1 : 0;
        }
        var stats = new SurrogateStatistics(
            0.5 * MaskedStatistics.Mean(squaredLogRatio, mask), MaskedStatistics.Mean(active, mask),
            MaskedStatistics.Mean(low, mask), MaskedStatistics.Mean(high, mask),
            MaskedStatistics.Mean(r, mask), MaskedStatistics.Variance(r, mask, unbiased: true), MaskedStatistics.Mean(loss.Span, mask));
        return (loss, stats);
    }
}
