namespace Reins.Feedback.Datasets;

/// <summary>What earlier records of a file fixed for the later ones.</summary>
/// <param name="Format">The format, <see cref="DatasetFormat.Auto"/> until the first valid record.</param>
/// <param name="Style">Standard or conversational.</param>
/// <param name="ExplicitPrompt">For preferences: whether records carry a <c>prompt</c>, so one that lost it is an error, not silently an implicit-prompt record.</param>
/// <param name="RatingAttributes">For ratings: the attribute names, given or discovered.</param>
internal readonly record struct ReadState(DatasetFormat Format, DatasetStyle? Style, bool? ExplicitPrompt, IReadOnlyList<string>? RatingAttributes);
