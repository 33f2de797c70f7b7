using System.Globalization;

namespace Reins.Rewards.Scoring;

/// <summary>How the outputs of a multi-output reward model become one reward.</summary>
public enum RewardAggregationKind
{
    /// <summary>Σₖ wₖ·rₖ with the attribute weights (1/K each by default): HelpSteer2/ArmoRM attributes.</summary>
    WeightedSum,
    /// <summary>minₖ rₖ: MaxMin-RLHF's objective, the worst-served group's reward.</summary>
    Min,
    /// <summary>−τ·log((1/K)·Σₖ exp(−rₖ/τ)): a smooth minimum, the mean as τ → ∞ and the minimum as τ → 0.</summary>
    SoftMin,
}

/// <summary>
/// The aggregation of a multi-output reward model's (standardised) outputs into the reward an online method
/// optimises: the weighted sum, or for a mixture of group rewards (<c>reins rm --objective mixture</c>) MaxMin-RLHF's
/// minimum over groups or a soft minimum. Parsed from "mean", "min" or "softmin:τ".
/// </summary>
/// <param name="Kind">Which aggregation.</param>
/// <param name="Tau">The soft minimum's temperature.</param>
public sealed record RewardAggregation(RewardAggregationKind Kind, float Tau = 1f)
{
    /// <summary>The weighted sum (the mean when no weights are given).</summary>
    public static RewardAggregation WeightedSum { get; } = new(RewardAggregationKind.WeightedSum);

    /// <summary>Parses mean, min or softmin:τ.</summary>
    public static RewardAggregation Parse(string text) => text.Trim() switch
    {
        "mean" or "sum" => WeightedSum,
        "min" => new(RewardAggregationKind.Min),
        var s when s.StartsWith("softmin:", StringComparison.Ordinal) && float.TryParse(s["softmin:".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out float tau) && tau > 0 && float.IsFinite(tau)
            => new(RewardAggregationKind.SoftMin, tau),
        var s => throw new ArgumentException($"reward aggregation: '{s}' is not mean, min or softmin:TAU (TAU > 0)."),
    };

    /// <summary>One reward per row of <paramref name="scores"/> [sequence, K]; <paramref name="weights"/> apply to the weighted sum only.</summary>
    public float[] Apply(ReadOnlySpan<float> scores, ReadOnlySpan<float> weights)
    {
        int k = weights.Length;
        if (Kind == RewardAggregationKind.WeightedSum) return RewardModels.AttributeWeights.Combine(scores, weights);
        var rewards = new float[scores.Length / k];
        for (int i = 0; i < rewards.Length; i++)
        {
            var row = scores.Slice(i * k, k);
            float min = float.PositiveInfinity;
            foreach (float r in row) min = Math.Min(min, r);
            if (Kind == RewardAggregationKind.Min) { rewards[i] = min; continue; }
            // Shifted by the minimum so that exp never overflows: −τ·log((1/K)·Σ exp(−(r − min)/τ)) + min.
            double sum = 0;
            foreach (float r in row) sum += Math.Exp(-(r - min) / Tau);
            rewards[i] = (float)(min - Tau * Math.Log(sum / k));
        }
        return rewards;
    }
}
