using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>
/// PPO's clipped value loss (Huang et al. 2024, detail 9; TRL's PPO): ½·max((V − R)², (clip(V, V_old ± ε_v) − R)²) per
/// token, so a value prediction gains nothing by moving further than ε_v from the rollout's in one update.
/// </summary>
public static class ValueLoss
{
    /// <summary>Per-token losses [n] (differentiable through <paramref name="values"/>) and, per token, whether the clipped term was the larger.</summary>
    public static (Tensor Loss, float[] Clipped) Compute(Tensor values, float[] oldValues, float[] returns, float clipRange)
    {
        int n = oldValues.Length;
        var old = Tensor.FromArray(oldValues, n);
        var targets = Tensor.FromArray(returns, n);
        var clippedValues = old + Ops.Clamp(values - old, -clipRange, clipRange);
        var unclippedLoss = Ops.Pow(values - targets, 2);
        var clippedLoss = Ops.Pow(clippedValues - targets, 2);
        var loss = 0.5f * Ops.Maximum(unclippedLoss, clippedLoss);
        var clipped = new float[n];
        for (int i = 0; i < n; i++) clipped[i] = clippedLoss.Span[i] > unclippedLoss.Span[i] ? 1 : 0;
        return (loss, clipped);
    }
}
