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
        ArgumentOutOfRangeException.ThrowIfLessThan(resamples, 1);
        if (level is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(level), level, "confidence level must be in (0, 1)");
        double estimate = statistic([.. Enumerable.Range(0, count)]);
        var rng = new Rng(seed);
        var replicates = new double[resamples];
        var sample = new int[count];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < count; i++) sample[i] = rng.NextInt(count);
            replicates[r] = statistic(sample);
        }
        Array.Sort(replicates);
        double tail = (1 - level) / 2;
        return new ConfidenceInterval(estimate, Quantile(replicates, tail), Quantile(replicates, 1 - tail));
    }

    /// <summary>Linear interpolation between order statistics (NumPy's default quantile).</summary>
    private static double Quantile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }
}
