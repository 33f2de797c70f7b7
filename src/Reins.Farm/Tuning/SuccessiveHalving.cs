namespace Reins.Farm.Tuning;

/// <summary>
/// Successive halving (Jamieson and Talwalkar 2016) with development seeds as the resource: every candidate is tried
/// on the first seed, the best third (rounded up) of them on the next as well, and so on; after the last seed the
/// candidate with the best mean over every seed is chosen. Scores are means over the seeds a candidate has been tried
/// on, so a promotion never rests on one seed once there are more.
/// </summary>
public static class SuccessiveHalving
{
    /// <summary>The share kept at each rung is 1/η (Hyperband's usual η).</summary>
    public const int Eta = 3;

    /// <summary>
    /// The candidates promoted from <paramref name="scores"/> (candidate → mean score, higher better): the best
    /// ⌈n/η⌉, ties going to the candidate listed first, returned in the order listed.
    /// </summary>
    public static IReadOnlyList<int> Promote(IReadOnlyList<(int Candidate, double Score)> scores)
    {
        if (scores.Count == 0) throw new ArgumentException("no candidates to promote", nameof(scores));
        int keep = (scores.Count + Eta - 1) / Eta;
        return [.. scores.Select((s, order) => (s, order)).OrderByDescending(x => x.s.Score).ThenBy(x => x.order).Take(keep)
            .OrderBy(x => x.order).Select(x => x.s.Candidate)];
    }

    /// <summary>The best candidate of the last rung (ties to the one listed first).</summary>
    public static int Best(IReadOnlyList<(int Candidate, double Score)> scores) =>
        scores.Select((s, order) => (s, order)).OrderByDescending(x => x.s.Score).ThenBy(x => x.order).First().s.Candidate;
}
