using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>The settings of <see cref="PolicyGradientLoss"/>, each method's own names mapped onto one shape.</summary>
/// <param name="ClipLow">ε_low of the clipped ratio.</param>
/// <param name="ClipHigh">ε_high of the clipped ratio.</param>
/// <param name="KlLoss">The estimator of the β·KL term added to the loss, or null when the KL is not in the loss.</param>
/// <param name="EntCoef">Weight of the entropy bonus (0 = off).</param>
/// <param name="Aggregation">How per-token losses become the mini-batch loss.</param>
/// <param name="ShapingGamma">γ of <see cref="PolicyShaping"/> for the tokens a batch marks as off-policy (Critique-GRPO's refinements).</param>
public sealed record PolicyLossSettings(float ClipLow, float ClipHigh, KlEstimator? KlLoss, float EntCoef, LossAggregation Aggregation, float ShapingGamma = 0.1f);

/// <summary>
/// The policy loss of the PPO family per token: the clipped surrogate (<see cref="ClippedSurrogate"/>) — or, on tokens
/// marked off-policy, the shaped objective (<see cref="PolicyShaping"/>) — plus β times a
/// KL estimator against the reference when the method puts the KL in the loss (GRPO's k3, REINFORCE++-baseline's k2),
/// minus ent_coef times the token entropy, summed with the aggregation's weights (<see cref="TokenLossWeights"/>).
/// Logs TRL's loss/policy_avg, policy/approxkl_avg, policy/clipfrac_avg, clip_ratio/*, val/ratio, val/ratio_var,
/// policy/entropy_avg and, with a KL term, kl.
/// </summary>
public static class PolicyGradientLoss
{
    /// <summary>
    /// The loss of one micro-batch: <paramref name="logProbs"/> [n] and <paramref name="logits"/> [n, vocab] from the
    /// policy's forward at <paramref name="temperature"/>, the rollout's old log-probs, advantages and reference log-probs
    /// of the same tokens, the tokens the loss counts (<paramref name="mask"/>) and their aggregation weights.
    /// </summary>
    public static (Tensor Loss, Dictionary<string, double> Metrics) Compute(Tensor logProbs, Tensor logits, float temperature, float[] oldLogProbs, float[] advantages,
        float[]? referenceLogProbs, float beta, float[] mask, float[] weights, PolicyLossSettings settings, float[]? offPolicy = null)
    {
        // The ratio's statistics describe the on-policy tokens; off-policy ones have no π_old to compare with.
        var onPolicyMask = offPolicy is null ? mask : [.. mask.Select((m, i) => m * (1 - offPolicy[i]))];
        var (surrogate, s) = ClippedSurrogate.Compute(logProbs, oldLogProbs, advantages, settings.ClipLow, settings.ClipHigh, onPolicyMask);
        var metrics = new Dictionary<string, double>
        {
            ["loss/policy_avg"] = s.LossMean, ["policy/approxkl_avg"] = s.ApproxKl, ["policy/clipfrac_avg"] = s.ClipFraction,
            ["clip_ratio/low_mean"] = s.LowClipFraction, ["clip_ratio/high_mean"] = s.HighClipFraction,
            ["val/ratio"] = s.RatioMean, ["val/ratio_var"] = s.RatioVariance,
        };
        var perToken = surrogate;
        if (offPolicy is not null)
        {
            var shaped = PolicyShaping.Loss(logProbs, advantages, settings.ShapingGamma);
            var off = Tensor.FromArray(offPolicy, offPolicy.Length);
            perToken = surrogate * Tensor.FromArray([.. offPolicy.Select(o => 1 - o)], offPolicy.Length) + shaped * off;
            metrics["loss/shaped_avg"] = MaskedStatistics.Mean(shaped.Span, [.. mask.Select((m, i) => m * offPolicy[i])]);
        }
        if (settings.KlLoss is { } estimator && beta > 0)
        {
            var kl = KlPenalty.Loss(estimator, logProbs, referenceLogProbs ?? throw new ArgumentException("policy loss: a KL term needs the reference log-probs.", nameof(referenceLogProbs)));
            metrics["kl"] = MaskedStatistics.Mean(kl.Span, mask);
            perToken = perToken + beta * kl;
        }
        // Entropy of softmax(logits / T), the distribution sampled from; it carries a gradient only when it is a bonus.
        Tensor entropy;
        using (settings.EntCoef > 0 ? null : Tape.NoGrad()) entropy = Ops.Entropy(logits * (1f / temperature));
        metrics["policy/entropy_avg"] = MaskedStatistics.Mean(entropy.Span, mask);
        if (settings.EntCoef > 0) perToken = perToken - settings.EntCoef * entropy;
        return (Ops.Sum(perToken * Tensor.FromArray(weights, weights.Length)), metrics);
    }
}
