using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>
/// Policy shaping for off-policy tokens (LUFFY, Yan et al. 2025; Critique-GRPO, Zhang et al. 2025, Eq. 4): the loss of a
/// token the policy did not sample in this context (a critique-guided refinement, scored as an answer to the question
/// alone) is ℓ = −A·f(π_θ), f(p) = p / (p + γ), with no π_old and no clipping. Its gradient −A·γp/(p+γ)²·∇log p peaks at
/// p = γ, so correct but unfamiliar tokens (small p) teach the most, where the plain log-likelihood's would vanish as
/// p → 0 and explode in the ratio's.
/// </summary>
public static class PolicyShaping
{
    /// <summary>Per-token losses [n] from the policy's log-probs <paramref name="logProbs"/> [n] (differentiable) and the advantages.</summary>
    public static Tensor Loss(Tensor logProbs, float[] advantages, float gamma)
    {
        if (!(gamma > 0)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "policy shaping: γ must be positive.");
        var p = Ops.Exp(logProbs);
        return -(Tensor.FromArray(advantages, advantages.Length) * Ops.Div(p, Ops.AddScalar(p, gamma)));
    }
}
