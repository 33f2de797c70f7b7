namespace Reins.Alignment.Online;

/// <summary>Two sampled rows of one prompt made into a DPO pair: the preferred one and the other.</summary>
public readonly record struct PreferencePair(int Chosen, int Rejected);

/// <summary>
/// Judged samples made into DPO pairs. A prompt whose samples are judged equal teaches nothing about which is better,
/// so it gives no pair (null) and is counted as a tie: TRL's online DPO would make its first sample chosen, which
/// with a verifiable reward (many exact ties) trains on label noise.
/// </summary>
public static class PreferencePairs
{
    /// <summary>
    /// Best versus worst of each group of <paramref name="n"/> adjacent scores (the rejection-sampling pairs of RLHF
    /// Workflow, Dong et al. 2024, §3; with n = 2 the two samples of online DPO): the highest score chosen, the lowest
    /// rejected, the earlier sample first among equal scores; null where all n scores are equal.
    /// </summary>
    public static PreferencePair?[] BestVersusWorst(ReadOnlySpan<float> scores, int n)
    {
        if (n < 2 || scores.Length % n != 0) throw new ArgumentException($"pairs: {scores.Length} scores do not form groups of {n} ≥ 2 samples.", nameof(n));
        var pairs = new PreferencePair?[scores.Length / n];
        for (int g = 0; g < pairs.Length; g++)
        {
            int best = g * n, worst = g * n;
            for (int i = g * n + 1; i < (g + 1) * n; i++)
            {
                if (scores[i] > scores[best]) best = i;
                if (scores[i] < scores[worst]) worst = i;
            }
            pairs[g] = scores[best] > scores[worst] ? new PreferencePair(best, worst) : null;
        }
        return pairs;
    }

    /// <summary>
    /// Pairs of adjacent rows (2p, 2p + 1) from a judge's probability that the first is preferred: the more likely
    /// side is chosen, and 0.5 is a tie.
    /// </summary>
    public static PreferencePair?[] FromJudgements(ReadOnlySpan<float> firstPreferred)
    {
        var pairs = new PreferencePair?[firstPreferred.Length];
        for (int p = 0; p < pairs.Length; p++)
        {
            float q = firstPreferred[p];
            if (!(q is >= 0 and <= 1)) throw new InvalidDataException($"judge: pair {p} was given probability {q}; expected a number in [0, 1].");
            pairs[p] = q > 0.5f ? new PreferencePair(2 * p, 2 * p + 1) : q < 0.5f ? new PreferencePair(2 * p + 1, 2 * p) : null;
        }
        return pairs;
    }
}
