namespace Reins.Rewards.Evaluation;

/// <summary>
/// Expected calibration error (Naeini et al. 2015; Guo et al. 2017, Eq. 3): predictions are grouped into M
/// equal-width confidence bins ((m−1)/M, m/M], and ECE = Σₘ (|Bₘ|/n) · |acc(Bₘ) − conf(Bₘ)|, the gap between how sure
/// the model was and how often it was right, weighted by how many predictions each bin holds.
/// </summary>
public static class ExpectedCalibrationError
{
    /// <summary>The usual number of bins.</summary>
    public const int DefaultBins = 10;

    /// <summary>ECE of predictions with <paramref name="confidence"/> in [0, 1], each right or not.</summary>
    public static double Compute(ReadOnlySpan<double> confidence, ReadOnlySpan<bool> correct, int bins = DefaultBins)
    {
        if (confidence.Length != correct.Length) throw new ArgumentException($"ece: {confidence.Length} confidences for {correct.Length} outcomes.", nameof(correct));
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, "ece: needs at least one bin.");
        if (confidence.IsEmpty) return double.NaN;
        var count = new int[bins];
        var sumConfidence = new double[bins];
        var sumCorrect = new double[bins];
        for (int i = 0; i < confidence.Length; i++)
        {
            double c = confidence[i];
            if (!(c is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(confidence), c, $"ece: confidence {i} is outside [0, 1].");
            int b = Math.Clamp((int)Math.Ceiling(c * bins) - 1, 0, bins - 1);
            count[b]++;
            sumConfidence[b] += c;
            if (correct[i]) sumCorrect[b]++;
        }
        double ece = 0;
        for (int b = 0; b < bins; b++)
            if (count[b] > 0) ece += Math.Abs(sumCorrect[b] - sumConfidence[b]) / confidence.Length;
        return ece;
    }
}
