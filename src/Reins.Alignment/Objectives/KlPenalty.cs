using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>
/// Single-sample estimators of KL(π‖π_ref) at a token y sampled from π (Schulman 2020, "Approximating KL divergence"),
/// with log r = log π_ref(y) − log π(y). TRL and OpenRLHF name them k1, k2, k3.
/// </summary>
public enum KlEstimator
{
    /// <summary>k1 = −log r: unbiased, can be negative per token. Used as reward shaping (InstructGPT).</summary>
    K1,
    /// <summary>k2 = ½(log r)²: non-negative, biased; as a loss its gradient is that of the reverse KL(π‖π_ref).</summary>
    K2,
    /// <summary>k3 = (r − 1) − log r: non-negative, unbiased (GRPO); as a loss its gradient is that of the forward KL(π_ref‖π).</summary>
    K3,
}

/// <summary>The KL estimators as numbers (reward shaping, logging) and as differentiable per-token loss terms.</summary>
public static class KlPenalty
{
    /// <summary>The estimate at one token.</summary>
    public static float Value(KlEstimator estimator, float logProb, float referenceLogProb)
    {
        float logRatio = referenceLogProb - logProb;
        return estimator switch
        {
            KlEstimator.K1 => -logRatio,
            KlEstimator.K2 => 0.5f * logRatio * logRatio,
            _ => MathF.Exp(logRatio) - 1 - logRatio,
        };
    }

    /// <summary>
    /// The per-token penalty to add to a loss, differentiable through <paramref name="logProbs"/> [n]. Its gradients,
    /// in expectation over y ~ π: k2 gives E[(log π − log π_ref)∇log π] = ∇KL(π‖π_ref); k3 gives
    /// E[(1 − π_ref/π)∇log π] = −Σ_y π_ref(y)∇log π(y) = ∇KL(π_ref‖π), the forward KL, not the reverse one the reward
    /// shaping targets. k1 is refused: E[∇(log π − log π_ref)] = E[∇log π] = 0, so as a loss it pulls nowhere.
    /// </summary>
    public static Tensor Loss(KlEstimator estimator, Tensor logProbs, float[] referenceLogProbs)
    {
        var logRatio = Tensor.FromArray(referenceLogProbs, referenceLogProbs.Length) - logProbs;
        return estimator switch
        {
            KlEstimator.K1 => throw new ArgumentException("kl_estimator k1 cannot be a loss: its expected gradient is zero (E[∇log π] = 0); use k2 or k3, or put k1 in the reward."),
            KlEstimator.K2 => 0.5f * Ops.Pow(logRatio, 2),
            _ => Ops.Exp(logRatio) - logRatio - 1f,
        };
    }
}
