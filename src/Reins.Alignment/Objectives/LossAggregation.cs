namespace Reins.Alignment.Objectives;

/// <summary>
/// How per-token losses ℓ_{i,t} (kept by the mask m_{i,t}) become one mini-batch loss: TRL's GRPO loss_type values.
/// B is the number of sequences in the mini-batch; |o_i| = Σ_t m_{i,t}.
/// </summary>
public enum LossAggregation
{
    /// <summary>grpo: (1/B) Σ_i (1/|o_i|) Σ_t ℓ_{i,t} — each sequence's token mean, then the mean over sequences (Shao et al. 2024, Eq. 3); a long completion's tokens weigh less.</summary>
    Grpo,
    /// <summary>bnpo: Σ_{i,t} m·ℓ / Σ_{i,t} m within each micro-batch, averaged over gradient-accumulation steps — token-level, as TRL's PPO masked_mean.</summary>
    Bnpo,
    /// <summary>dapo: Σ_{i,t} m·ℓ / N, N = kept tokens of the whole mini-batch — token-level however it is split into micro-batches (Yu et al. 2025, Eq. 8).</summary>
    Dapo,
    /// <summary>dr_grpo: Σ_{i,t} m·ℓ / (B·L), L = max_completion_length — a constant normaliser, so no length bias (Liu et al. 2025, "Dr. GRPO").</summary>
    DrGrpo,
}

/// <summary>The shape of the mini-batch a micro-batch belongs to, which the normalisers above need.</summary>
/// <param name="Rows">Sequences in the mini-batch (B).</param>
/// <param name="Tokens">Kept tokens in the mini-batch (N).</param>
/// <param name="AccumulationSteps">Micro-batches in it.</param>
/// <param name="MaxCompletionLength">L of dr_grpo.</param>
public sealed record MiniBatch(int Rows, double Tokens, int AccumulationSteps, int MaxCompletionLength);

/// <summary>Each aggregation as per-token weights w (0 off the mask): a micro-batch contributes Σ w·ℓ, and its micro-batches sum to the mini-batch loss.</summary>
public static class TokenLossWeights
{
    /// <summary>Weights [rows·length] for a micro-batch with mask <paramref name="mask"/> [rows·length].</summary>
    public static float[] Of(LossAggregation mode, float[] mask, int rows, int length, MiniBatch miniBatch)
    {
        var weights = new float[mask.Length];
        double microTokens = mask.Sum(m => (double)m);
        for (int r = 0; r < rows; r++)
        {
            double rowTokens = 0;
            for (int t = 0; t < length; t++) rowTokens += mask[r * length + t];
            double scale = mode switch
            {
                LossAggregation.Grpo => 1 / (Math.Max(1, rowTokens) * miniBatch.Rows),
                LossAggregation.Bnpo => 1 / (Math.Max(1, microTokens) * miniBatch.AccumulationSteps),
                LossAggregation.Dapo => 1 / Math.Max(1, miniBatch.Tokens),
                _ => 1.0 / ((double)miniBatch.Rows * miniBatch.MaxCompletionLength),
            };
            for (int t = 0; t < length; t++) weights[r * length + t] = (float)(mask[r * length + t] * scale);
        }
        return weights;
    }
}
