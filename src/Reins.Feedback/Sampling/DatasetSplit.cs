namespace Reins.Feedback.Sampling;

/// <summary>A train/eval split of a dataset.</summary>
/// <param name="Train">The training part.</param>
/// <param name="Test">The held-out part.</param>
public sealed record DatasetSplit<T>(IReadOnlyList<T> Train, IReadOnlyList<T> Test)
{
    /// <summary>
    /// Holds out <paramref name="testFraction"/> of the items, rounded up as Hugging Face's <c>train_test_split</c>
    /// does. Membership is drawn from <paramref name="seed"/>; each part keeps the items' original order.
    /// </summary>
    public static DatasetSplit<T> ByFraction(IReadOnlyList<T> items, double testFraction, ulong seed)
    {
        if (!(testFraction > 0 && testFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "the test fraction must be strictly between 0 and 1.");
        return ByCount(items, (int)Math.Ceiling(testFraction * items.Count), seed);
    }

    /// <summary>Holds out <paramref name="testCount"/> items drawn from <paramref name="seed"/>; each part keeps the original order.</summary>
    public static DatasetSplit<T> ByCount(IReadOnlyList<T> items, int testCount, ulong seed)
    {
        if (testCount < 1 || testCount >= items.Count)
            throw new ArgumentOutOfRangeException(nameof(testCount), testCount, $"a split of {items.Count} items needs a test size from 1 to {items.Count - 1}, so neither part is empty.");
        var order = Permutation.Shuffled(items.Count, seed);
        var test = order[..testCount];
        var train = order[testCount..];
        Array.Sort(test);
        Array.Sort(train);
        return new DatasetSplit<T>(train.Select(i => items[i]).ToArray(), test.Select(i => items[i]).ToArray());
    }
}
