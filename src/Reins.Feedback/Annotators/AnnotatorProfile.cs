namespace Reins.Feedback.Annotators;

/// <summary>
/// How one simulated annotator departs from the gold reward: Bradley–Terry temperature, label noise, length bias and
/// position bias (the biases AlpacaFarm measured in its simulated annotators, Dubois et al. 2023, §3.2).
/// </summary>
/// <param name="Temperature">
/// Noise of the Bradley–Terry choice in gold-reward units: P(first) = σ((u₁ − u₂)/T + position bias). 0 always picks the
/// higher utility.
/// </param>
/// <param name="FlipProbability">Probability that the label is flipped after the choice (AlpacaFarm used 0.25).</param>
/// <param name="LengthBias">Gold-reward units added to a response's utility per word, so positive values prefer longer responses.</param>
/// <param name="PositionBias">Logit added in favour of the response shown first; negative values favour the second.</param>
public sealed record AnnotatorProfile(double Temperature, double FlipProbability = 0, double LengthBias = 0, double PositionBias = 0)
{
    /// <summary>AlpacaFarm's label-noise rate: a quarter of p_sim's training labels were flipped at random.</summary>
    public const double AlpacaFarmFlipProbability = 0.25;

    /// <summary>
    /// Profiles of a pool of <paramref name="count"/> annotators whose temperatures are spaced geometrically from
    /// <paramref name="minTemperature"/> to <paramref name="maxTemperature"/> and whose position biases alternate in sign,
    /// so the pool, like AlpacaFarm's 13 prompt/model variants, mixes careful and careless judges with opposite order
    /// preferences. The other settings are shared.
    /// </summary>
    public static AnnotatorProfile[] Spread(int count, double minTemperature, double maxTemperature,
        double flipProbability = 0, double lengthBias = 0, double positionBias = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (minTemperature <= 0 || maxTemperature < minTemperature)
            throw new ArgumentOutOfRangeException(nameof(maxTemperature), $"temperatures must satisfy 0 < min ≤ max, got {minTemperature} and {maxTemperature}");
        var profiles = new AnnotatorProfile[count];
        for (int i = 0; i < count; i++)
        {
            double t = count == 1 ? minTemperature : minTemperature * Math.Pow(maxTemperature / minTemperature, i / (double)(count - 1));
            profiles[i] = new AnnotatorProfile(t, flipProbability, lengthBias, i % 2 == 0 ? positionBias : -positionBias);
        }
        return profiles;
    }

    /// <summary>Throws when a setting is outside its range.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "annotator temperature must be finite and ≥ 0");
        if (FlipProbability is < 0 or > 1 || double.IsNaN(FlipProbability))
            throw new ArgumentOutOfRangeException(nameof(FlipProbability), FlipProbability, "flip probability must be in [0, 1]");
        if (!double.IsFinite(LengthBias)) throw new ArgumentOutOfRangeException(nameof(LengthBias), LengthBias, "length bias must be finite");
        if (!double.IsFinite(PositionBias)) throw new ArgumentOutOfRangeException(nameof(PositionBias), PositionBias, "position bias must be finite");
    }
}
