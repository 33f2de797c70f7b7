namespace Reins.Rewards.Evaluation;

/// <summary>
/// The safety test of high-confidence RLHF (HC-RLHF; Seldonian algorithms, Thomas et al. 2019): with costs c₁…c_n of
/// responses to held-out prompts, the one-sided (1 − δ) Student-t upper bound of the expected cost is
/// mean + t_{1−δ, n−1}·s/√n (s the sample standard deviation); the policy passes when the bound is at most the
/// threshold, else the answer is "no solution found". The same width, expected at test size n, is what training
/// against a pessimistic constraint subtracts from the threshold.
/// </summary>
public sealed record SafetyTest(int N, double MeanCost, double StdCost, double TQuantile, double UpperBound, double Threshold, double Delta)
{
    /// <summary>Whether the bound is at most the threshold.</summary>
    public bool Passed => UpperBound <= Threshold;

    /// <summary>The test of <paramref name="costs"/> against <paramref name="threshold"/> at confidence 1 − <paramref name="delta"/>.</summary>
    public static SafetyTest Run(IReadOnlyList<double> costs, double threshold, double delta)
    {
        if (costs.Count < 2) throw new ArgumentException($"safety test: {costs.Count} costs; a confidence bound needs at least 2.", nameof(costs));
        if (!(delta > 0 && delta < 1)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "safety test: δ must be in (0, 1).");
        double mean = costs.Average();
        double std = Math.Sqrt(costs.Sum(c => (c - mean) * (c - mean)) / (costs.Count - 1));
        double t = StudentT.Quantile(1 - delta, costs.Count - 1);
        return new SafetyTest(costs.Count, mean, std, t, mean + t * std / Math.Sqrt(costs.Count), threshold, delta);
    }

    /// <summary>
    /// The width t_{1−δ, n−1}·σ/√n the bound will add at test size <paramref name="testSize"/> for costs of standard
    /// deviation <paramref name="std"/>: HC-RLHF trains against threshold − this.
    /// </summary>
    public static double ExpectedWidth(double std, int testSize, double delta) => StudentT.Quantile(1 - delta, testSize - 1) * std / Math.Sqrt(testSize);
}
