namespace Reins.Feedback.Datasets;

/// <summary>How to read a JSONL dataset.</summary>
public sealed record DatasetReadOptions
{
    /// <summary>The format; <see cref="DatasetFormat.Auto"/> detects it from the first valid record's keys.</summary>
    public DatasetFormat Format { get; init; } = DatasetFormat.Auto;

    /// <summary>
    /// Skip invalid lines and count them in the <see cref="DatasetReport"/> instead of stopping at the first. Off by
    /// default: a wrong line usually means a wrong file, and training on what is left would hide it.
    /// </summary>
    public bool SkipInvalid { get; init; }

    /// <summary>
    /// Rating attribute names for <see cref="DatasetFormat.Ratings"/>, in target-vector order. When null they are
    /// discovered: every numeric field of the first record other than prompt and response, in file order.
    /// </summary>
    public IReadOnlyList<string>? RatingAttributes { get; init; }
}
