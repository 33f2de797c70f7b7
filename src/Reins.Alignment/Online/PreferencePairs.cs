using Reins.Rewards.Judges;
using Reins.Rewards.Sources;

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
    /// Each sample's estimated win-rate against the other n − 1 samples of its group of <paramref name="n"/> adjacent
    /// rows, P̂(y ≻ π) (SPPO's and DNO's signal): the mean over the others of the judge's P(y ≻ y′), asked once per
    /// unordered pair with P(y′ ≻ y) = 1 − P(y ≻ y′); without a judge, of the comparison of the scores (1, 0, ½ for equal).
    /// Against a cycle every member wins half its games, so no member stands out. With <paramref name="preferenceScores"/>
    /// (GPO) the judge's preference scores s (P = σ(s), antisymmetric) stand in for its probabilities: ½ + the mean of s
    /// over the others, so that SPPO's target (P̂ − ½)/β becomes the mean score over β.
    /// </summary>
    public static float[] WinRates(IReadOnlyList<ScoringRequest> requests, ReadOnlySpan<float> scores, int n, IPairwiseJudge? judge, CancellationToken cancellation = default,
        bool preferenceScores = false)
    {
        int rows = requests.Count;
        if (n < 2 || rows % n != 0 || scores.Length != rows) throw new ArgumentException($"win-rates: {rows} samples and {scores.Length} scores do not form groups of {n} ≥ 2.", nameof(n));
        var matches = new List<(int First, int Second)>();
        for (int g = 0; g < rows; g += n)
            for (int i = g; i < g + n; i++)
                for (int j = i + 1; j < g + n; j++) matches.Add((i, j));
        float[] p;
        if (judge is null)
        {
            if (preferenceScores) throw new ArgumentException("preference scores need a general preference model as the judge.");
            p = new float[matches.Count];
            for (int m = 0; m < matches.Count; m++) p[m] = RewardSourceJudge.PreferenceOf(scores[matches[m].First], scores[matches[m].Second]);
        }
        else if (preferenceScores)
            p = (judge as IPreferenceScoreJudge ?? throw new ArgumentException($"preference scores: judge '{judge.Name}' gives probabilities, not preference scores (use a general preference model)."))
                .PreferenceScores([.. matches.Select(m => new PairToJudge(requests[m.First], requests[m.Second]))], cancellation);
        else p = judge.Judge([.. matches.Select(m => new PairToJudge(requests[m.First], requests[m.Second]))], cancellation);
        if (p.Length != matches.Count) throw new InvalidDataException($"judge '{judge!.Name}' returned {p.Length} verdicts for {matches.Count} pairs.");
        var wins = new double[rows];
        for (int m = 0; m < matches.Count; m++)
        {
            if (preferenceScores)
            {
                if (!float.IsFinite(p[m])) throw new InvalidDataException($"judge: pair {m} was given preference score {p[m]}.");
                wins[matches[m].First] += p[m];
                wins[matches[m].Second] -= p[m];
                continue;
            }
            if (!(p[m] is >= 0 and <= 1)) throw new InvalidDataException($"judge: pair {m} was given probability {p[m]}; expected a number in [0, 1].");
            wins[matches[m].First] += p[m];
            wins[matches[m].Second] += 1 - p[m];
        }
        return [.. wins.Select(w => (float)((preferenceScores ? 0.5 : 0) + w / (n - 1)))];
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
