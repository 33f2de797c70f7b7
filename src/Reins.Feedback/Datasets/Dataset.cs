namespace Reins.Feedback.Datasets;

/// <summary>A dataset read into memory, with the report of how it was read.</summary>
/// <param name="Examples">The records, in file order.</param>
/// <param name="Report">What reading found, for the training log.</param>
public sealed record Dataset<T>(IReadOnlyList<T> Examples, DatasetReport Report) where T : Example;
