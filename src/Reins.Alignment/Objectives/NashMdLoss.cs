using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>The Nash-MD loss and what TRL logs of it.</summary>
/// <param name="Loss">mean over completions of β·Σ_t log-ratio_t · log π_t − (P − ½)·Σ_t log π_t.</param>
/// <param name="Scores">(P − ½)·Σ_t log π_t per completion (TRL's loss/score).</param>
/// <param name="Kl">Σ_t (log π_t − log π_ref,t) per completion (TRL's loss/kl, and its rewards/margins).</param>
public sealed record NashMdLossResult(Tensor Loss, float[] Scores, double[] Kl);

/// <summary>
/// Nash-MD's policy-gradient loss as TRL's NashMDTrainer writes it (Munos et al. 2024): a REINFORCE term on the
/// preference of the policy's sample over the opponent's, with ½ as the control variate, −(P − ½)·Σ_t log π(y_t), plus
/// β times a REINFORCE estimate of KL(π‖π_ref), Σ_t sg(log π_t − log π_ref,t)·log π_t, whose gradient is that of the KL.
/// </summary>
public static class NashMdLoss
{
    /// <summary>
    /// The loss of completions whose token log-probs under the policy are <paramref name="logProbs"/> [rows·T] (0 on
    /// padding, differentiable) and under the reference <paramref name="referenceLogProbs"/>, each preferred to its
    /// opponent with probability <paramref name="probabilities"/>.
    /// </summary>
    public static NashMdLossResult Compute(Tensor logProbs, ReadOnlySpan<float> referenceLogProbs, ReadOnlySpan<float> probabilities, int completionLength, float beta)
    {
        int rows = probabilities.Length;
        if (logProbs.Size != rows * completionLength || referenceLogProbs.Length != logProbs.Size)
            throw new ArgumentException($"nash_md: {logProbs.Size} policy and {referenceLogProbs.Length} reference log-probs for {rows} completions of {completionLength} tokens.");
        var policy = logProbs.ToArray();
        var ratio = new float[policy.Length];
        var kl = new double[rows];
        for (int i = 0; i < ratio.Length; i++)
        {
            // Padding has log-prob 0 under both, so its ratio is 0 too.
            ratio[i] = policy[i] - referenceLogProbs[i];
            kl[i / completionLength] += ratio[i];
        }
        var sums = Ops.Sum(Ops.Reshape(logProbs, rows, completionLength), 1);
        var klLoss = Ops.Sum(Ops.Reshape(Ops.Mul(logProbs, Tensor.FromArray(ratio, ratio.Length)), rows, completionLength), 1);
        var advantage = Tensor.FromArray([.. probabilities.ToArray().Select(p => p - 0.5f)], rows);
        var score = Ops.Mul(advantage, sums);
        return new NashMdLossResult(Ops.Mean(beta * klLoss - score), score.ToArray(), kl);
    }
}
