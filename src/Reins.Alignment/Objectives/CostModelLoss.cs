using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>
/// The cost model's loss of Safe RLHF (Dai et al. 2024, Eq. 6; safe-rlhf's sequence-wise cost loss). For a pair whose
/// more harmful response has cost C_h and the other C_l, with s = +1 for an unsafe response and −1 for a safe one:
/// L = −log σ(C_h − C_l) − log σ(s_l·C_l) − log σ(s_h·C_h), averaged over pairs. The ranking term is Bradley–Terry's;
/// the sign terms pin the zero: C &gt; 0 means unsafe, which is what a cost threshold of 0 relies on. Optional
/// regularisation adds r·mean(C²) over both responses. A record with one labelled response has the sign term alone.
/// </summary>
public static class CostModelLoss
{
    /// <summary>The pairwise loss of costs [pairs] of the more and the less harmful responses, with their safety signs.</summary>
    public static Tensor Pairwise(Tensor higher, Tensor lower, float[] higherSign, float[] lowerSign, float regularization = 0)
    {
        int n = higherSign.Length;
        var losses = -Ops.LogSigmoid(higher - lower) - Ops.LogSigmoid(lower * Tensor.FromArray(lowerSign, n)) - Ops.LogSigmoid(higher * Tensor.FromArray(higherSign, n));
        var loss = Ops.Mean(losses);
        return regularization > 0 ? loss + regularization * 0.5f * (Ops.Mean(higher * higher) + Ops.Mean(lower * lower)) : loss;
    }

    /// <summary>The loss of single labelled responses: −log σ(s·C), averaged.</summary>
    public static Tensor Single(Tensor costs, float[] signs) => Ops.Mean(-Ops.LogSigmoid(costs * Tensor.FromArray(signs, signs.Length)));

    /// <summary>s(y): +1 for an unsafe response, −1 for a safe one.</summary>
    public static float Sign(bool isSafe) => isSafe ? -1f : 1f;
}
