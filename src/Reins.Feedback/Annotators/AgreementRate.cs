namespace Reins.Feedback.Annotators;

/// <summary>
/// Raw agreement: the fraction of items on which annotators give the same label, the statistic AlpacaFarm reports
/// for humans (≈65%) and for its simulated annotators. Unlike κ it does not discount agreement by chance.
/// </summary>
public static class AgreementRate
{
    /// <summary>The fraction of items on which <paramref name="a"/> and <paramref name="b"/> agree.</summary>
    public static double Between<T>(IReadOnlyList<T> a, IReadOnlyList<T> b)
    {
        CheckSameLength(a.Count, b.Count);
        int same = 0;
        for (int i = 0; i < a.Count; i++) if (EqualityComparer<T>.Default.Equals(a[i], b[i])) same++;
        return same / (double)a.Count;
    }

    /// <summary>
    /// Agreement averaged over every unordered pair of annotators; <paramref name="labels"/>[item][annotator], every
    /// item labelled by the same annotators.
    /// </summary>
    public static double MeanPairwise<T>(IReadOnlyList<IReadOnlyList<T>> labels) =>
        OverAnnotatorPairs(labels, Between);

    /// <summary>
    /// The mean over every unordered pair of annotators (columns of <paramref name="labels"/>[item][annotator]) of a
    /// two-annotator statistic.
    /// </summary>
    public static double OverAnnotatorPairs<T>(IReadOnlyList<IReadOnlyList<T>> labels, Func<IReadOnlyList<T>, IReadOnlyList<T>, double> statistic)
    {
        if (labels.Count == 0) throw new ArgumentException("no items to compare", nameof(labels));
        int annotators = labels[0].Count;
        if (annotators < 2) throw new ArgumentException($"agreement needs at least two annotators, got {annotators}", nameof(labels));
        if (labels.Any(item => item.Count != annotators))
            throw new ArgumentException("every item must be labelled by the same number of annotators", nameof(labels));
        double sum = 0;
        int pairs = 0;
        for (int j = 0; j < annotators; j++)
            for (int k = j + 1; k < annotators; k++, pairs++)
                sum += statistic(labels.Select(item => item[j]).ToArray(), labels.Select(item => item[k]).ToArray());
        return sum / pairs;
    }

    internal static void CheckSameLength(int a, int b)
    {
        if (a != b) throw new ArgumentException($"the two annotators labelled {a} and {b} items");
        if (a == 0) throw new ArgumentException("no items to compare");
    }
}
