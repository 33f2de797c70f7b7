namespace Reins.Farm.Evaluation;

/// <summary>
/// The sample estimate of KL(π ‖ π_SFT) from responses drawn from π at temperature 1: per response the sum over its
/// tokens of log π − log π_SFT, whose expectation under π is the sequence-level KL; averaged over responses.
/// </summary>
public static class KlEstimate
{
    /// <summary>
    /// Σ_t (log π(y_t) − log π_SFT(y_t)) for each response, given the per-token log-probabilities of the same tokens
    /// under the policy (<paramref name="policy"/>) and the SFT model (<paramref name="reference"/>).
    /// </summary>
    public static double[] PerResponse(IReadOnlyList<float[]> policy, IReadOnlyList<float[]> reference)
    {
        if (policy.Count != reference.Count) throw new ArgumentException($"{policy.Count} policy and {reference.Count} reference sequences");
        var kl = new double[policy.Count];
        for (int i = 0; i < kl.Length; i++)
        {
            if (policy[i].Length != reference[i].Length)
                throw new ArgumentException($"response {i}: {policy[i].Length} policy and {reference[i].Length} reference log-probabilities");
            double sum = 0;
            for (int t = 0; t < policy[i].Length; t++) sum += policy[i][t] - (double)reference[i][t];
            kl[i] = sum;
        }
        return kl;
    }

    /// <summary>The mean of <see cref="PerResponse"/>: the KL estimate in nats.</summary>
    public static double Mean(IReadOnlyList<float[]> policy, IReadOnlyList<float[]> reference)
    {
        if (policy.Count == 0) throw new ArgumentException("no responses", nameof(policy));
        return PerResponse(policy, reference).Average();
    }
}
