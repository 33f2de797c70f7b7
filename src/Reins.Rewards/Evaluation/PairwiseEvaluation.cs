namespace Reins.Rewards.Evaluation;

/// <summary>
/// How well rewards order held-out preference pairs, as RewardBench reports it: the fraction of pairs whose chosen
/// response scores strictly higher (a tie counts as wrong), overall and per category (subset), the mean margin
/// r_c − r_r, the mean rewards of each side, and the expected calibration error of the Bradley–Terry probability
/// σ(r_c − r_r) that the chosen response is preferred.
/// </summary>
/// <param name="Pairs">Pairs evaluated.</param>
/// <param name="Accuracy">Fraction with r_c &gt; r_r.</param>
/// <param name="CategoryAccuracy">Accuracy per category, for pairs that have one.</param>
/// <param name="Margin">Mean r_c − r_r.</param>
/// <param name="RewardsChosen">Mean r_c.</param>
/// <param name="RewardsRejected">Mean r_r.</param>
/// <param name="Ece">Expected calibration error of the model's preference probability.</param>
public sealed record PairwiseEvaluation(int Pairs, double Accuracy, IReadOnlyDictionary<string, double> CategoryAccuracy,
    double Margin, double RewardsChosen, double RewardsRejected, double Ece)
{
    /// <summary>
    /// Evaluates rewards of <paramref name="chosen"/> and <paramref name="rejected"/> responses; <paramref name="categories"/>
    /// (null entries for pairs without one) may be null.
    /// </summary>
    public static PairwiseEvaluation Compute(ReadOnlySpan<float> chosen, ReadOnlySpan<float> rejected, IReadOnlyList<string?>? categories = null, int bins = ExpectedCalibrationError.DefaultBins)
    {
        int n = chosen.Length;
        if (rejected.Length != n) throw new ArgumentException($"pairwise evaluation: {n} chosen and {rejected.Length} rejected rewards.", nameof(rejected));
        if (categories is not null && categories.Count != n) throw new ArgumentException($"pairwise evaluation: {categories.Count} categories for {n} pairs.", nameof(categories));
        if (n == 0) throw new ArgumentException("pairwise evaluation: no pairs.", nameof(chosen));
        var correct = new bool[n];
        var confidence = new double[n];
        var perCategory = new SortedDictionary<string, (int Right, int Total)>(StringComparer.Ordinal);
        double margin = 0, sumChosen = 0, sumRejected = 0;
        for (int i = 0; i < n; i++)
        {
            double d = (double)chosen[i] - rejected[i];
            correct[i] = d > 0;
            // The model predicts the side its probability favours; its confidence is that side's probability.
            double p = 1 / (1 + Math.Exp(-d));
            confidence[i] = Math.Max(p, 1 - p);
            margin += d;
            sumChosen += chosen[i];
            sumRejected += rejected[i];
            if (categories?[i] is { } category)
            {
                var (right, total) = perCategory.GetValueOrDefault(category);
                perCategory[category] = (right + (correct[i] ? 1 : 0), total + 1);
            }
        }
        return new PairwiseEvaluation(n, correct.Count(c => c) / (double)n,
            perCategory.ToDictionary(kv => kv.Key, kv => kv.Value.Right / (double)kv.Value.Total),
            margin / n, sumChosen / n, sumRejected / n, ExpectedCalibrationError.Compute(confidence, correct, bins));
    }

    /// <summary>
    /// The metrics under the names a trainer logs (before its eval_ prefix): accuracy, accuracy/&lt;category&gt;, margin,
    /// ece, rewards/chosen, rewards/rejected.
    /// </summary>
    public Dictionary<string, double> ToMetrics()
    {
        var metrics = new Dictionary<string, double>
        {
            ["accuracy"] = Accuracy, ["margin"] = Margin, ["ece"] = Ece, ["rewards/chosen"] = RewardsChosen, ["rewards/rejected"] = RewardsRejected,
        };
        foreach (var (category, accuracy) in CategoryAccuracy) metrics["accuracy/" + category] = accuracy;
        return metrics;
    }
}
