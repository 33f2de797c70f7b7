namespace Reins.Farm.Evaluation;

/// <summary>A statistic and the bounds of its confidence interval.</summary>
/// <param name="Estimate">The statistic on the whole sample.</param>
/// <param name="Low">Lower bound.</param>
/// <param name="High">Upper bound.</param>
public readonly record struct ConfidenceInterval(double Estimate, double Low, double High)
{
    /// <summary>[Low, High], the form results.json stores.</summary>
    public double[] ToArray() => [Low, High];

    /// <summary>True when <paramref name="value"/> lies within the bounds.</summary>
    public bool Contains(double value) => Low <= value && value <= High;
}
