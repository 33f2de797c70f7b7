using Reins.Tensors;

namespace Reins.Farm.Evaluation;

/// <summary>
/// Percentile bootstrap confidence intervals (Efron and Tibshirani 1993) over prompts: resample the prompts with
/// replacement, recompute the statistic, and take the central quantiles. Prompts are the unit because that is what
/// a new evaluation would draw anew; average several responses per prompt before calling. Seeded.
/// </summary>
public static class Bootstrap
{
    /// <summary>Resamples used unless told otherwise; enough for stable 2.5% and 97.5% quantiles.</summary>
    public const int DefaultResamples = 2000;

    /// <summary>The mean of <paramref name="values"/> (one per prompt) and its <paramref name="level"/> interval.</summary>
    public static ConfidenceInterval Mean(IReadOnlyList<double> values, ulong seed, int resamples = DefaultResamples, double level = 0.95) =>
        Statistic(values.Count, sample =>
        {
            double sum = 0;
            foreach (int i in sample) sum += values[i];
            return sum / sample.Count;
        }, seed, resamples, level);

    /// <summary>
    /// Any statistic of <paramref name="count"/> prompts, computed by <paramref name="statistic"/> from a list of prompt
    /// indices (the identity 0…count−1 for the estimate, a resample for each replicate). The index list is reused
    /// between replicates, so the statistic must not keep it.
    /// </summary>
    public static ConfidenceInterval Statistic(int count, Func<IReadOnlyList<int>, double> statistic, ulong seed,
        int resamples = DefaultResamples, double level = 0.95)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Check(resamples, level);
        double estimate = statistic([.. Enumerable.Range(0, count)]);
        var rng = new Rng(seed);
        var replicates = new double[resamples];
        var sample = new int[count];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < count; i++) sample[i] = rng.NextInt(count);
            replicates[r] = statistic(sample);
        }
        return Percentile(estimate, replicates, level);
    }

    /// <summary>
    /// The hierarchical bootstrap of a mean over seeds of per-prompt means: each resample draws the seeds with
    /// replacement, then the prompts within each drawn seed, so the interval holds both the seed-to-seed and the
    /// prompt-to-prompt variation. The estimate is the mean over seeds of each seed's mean.
    /// </summary>
    public static ConfidenceInterval Hierarchical(IReadOnlyList<IReadOnlyList<double>> perSeed, ulong seed, int resamples = DefaultResamples, double level = 0.95)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perSeed.Count, 1);
        if (perSeed.Any(s => s.Count == 0)) throw new ArgumentException("hierarchical bootstrap: every seed needs at least one value.", nameof(perSeed));
        Check(resamples, level);
        double estimate = perSeed.Average(s => s.Average());
        var rng = new Rng(seed);
        var replicates = new double[resamples];
        for (int r = 0; r < resamples; r++)
        {
            double total = 0;
            for (int k = 0; k < perSeed.Count; k++)
            {
                var values = perSeed[rng.NextInt(perSeed.Count)];
                double sum = 0;
                for (int i = 0; i < values.Count; i++) sum += values[rng.NextInt(values.Count)];
                total += sum / values.Count;
            }
            replicates[r] = total / perSeed.Count;
        }
        return Percentile(estimate, replicates, level);
    }

    private static void Check(int resamples, double level)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(resamples, 1);
        if (level is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(level), level, "confidence level must be in (0, 1)");
    }

    // The percentile interval of the replicates around the estimate.
    private static ConfidenceInterval Percentile(double estimate, double[] replicates, double level)
    {
        Array.Sort(replicates);
        double tail = (1 - level) / 2;
        return new ConfidenceInterval(estimate, Quantile(replicates, tail), Quantile(replicates, 1 - tail));
    }

    // Linear interpolation between order statistics (NumPy's default quantile).
    private static double Quantile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }
}
