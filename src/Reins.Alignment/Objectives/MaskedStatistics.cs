namespace Reins.Alignment.Objectives;

/// <summary>
/// Means, variances and whitening over the entries a mask keeps (TRL's masked_mean, masked_var, masked_whiten): the
/// statistics of a batch of completions must not count the padding after each one.
/// </summary>
public static class MaskedStatistics
{
    /// <summary>Σ m·x / Σ m (0 for an empty mask).</summary>
    public static double Mean(ReadOnlySpan<float> values, ReadOnlySpan<float> mask)
    {
        double sum = 0, count = 0;
        for (int i = 0; i < values.Length; i++) { sum += mask[i] * values[i]; count += mask[i]; }
        return count == 0 ? 0 : sum / count;
    }

    /// <summary>
    /// Σ m·(x − μ)² / Σ m, times n/(n − 1) when <paramref name="unbiased"/> (TRL's masked_var applies Bessel's
    /// correction; OpenRLHF's REINFORCE++ whitening does not).
    /// </summary>
    public static double Variance(ReadOnlySpan<float> values, ReadOnlySpan<float> mask, bool unbiased)
    {
        double mean = Mean(values, mask), sum = 0, count = 0;
        for (int i = 0; i < values.Length; i++) { sum += mask[i] * (values[i] - mean) * (values[i] - mean); count += mask[i]; }
        if (count == 0) return 0;
        return unbiased ? (count > 1 ? sum / (count - 1) : 0) : sum / count;
    }

    /// <summary>
    /// (x − μ) / √(σ² + 1e−8) over the kept entries, 0 elsewhere; with <paramref name="shiftMean"/> false the mean is
    /// added back (TRL whitens rewards that way, so their sign survives).
    /// </summary>
    public static float[] Whiten(ReadOnlySpan<float> values, ReadOnlySpan<float> mask, bool shiftMean = true, bool unbiased = true)
    {
        double mean = Mean(values, mask), scale = 1 / Math.Sqrt(Variance(values, mask, unbiased) + 1e-8);
        var whitened = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
            if (mask[i] != 0) whitened[i] = (float)((values[i] - mean) * scale + (shiftMean ? 0 : mean));
        return whitened;
    }
}
