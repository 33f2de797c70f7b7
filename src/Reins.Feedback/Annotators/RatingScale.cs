namespace Reins.Feedback.Annotators;

/// <summary>
/// Maps gold-reward values onto the 1–7 Likert scale of pointwise ratings: <paramref name="GoldAtLowest"/> rates 1,
/// <paramref name="GoldAtHighest"/> rates 7, linearly in between and clamped outside. The gold reward's range belongs to
/// the task, so the caller supplies it.
/// </summary>
/// <param name="GoldAtLowest">Gold reward that earns a rating of 1.</param>
/// <param name="GoldAtHighest">Gold reward that earns a rating of 7.</param>
public readonly record struct RatingScale(double GoldAtLowest, double GoldAtHighest)
{
    /// <summary>The lowest rating.</summary>
    public const int Lowest = 1;

    /// <summary>The highest rating.</summary>
    public const int Highest = 7;

    /// <summary>The rating nearest to a gold-reward value.</summary>
    public int ToRating(double gold)
    {
        if (!(GoldAtHighest > GoldAtLowest)) throw new InvalidOperationException($"rating scale needs GoldAtHighest > GoldAtLowest, got [{GoldAtLowest}, {GoldAtHighest}]");
        double position = Lowest + (Highest - Lowest) * (gold - GoldAtLowest) / (GoldAtHighest - GoldAtLowest);
        return (int)Math.Clamp(Math.Round(position, MidpointRounding.AwayFromZero), Lowest, Highest);
    }
}
