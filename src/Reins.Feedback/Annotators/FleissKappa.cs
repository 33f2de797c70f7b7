namespace Reins.Feedback.Annotators;

/// <summary>
/// Fleiss' κ (Fleiss 1971): chance-corrected agreement of a pool of annotators, each item rated by the same number
/// of them: κ = (P̄ − P̄_e) / (1 − P̄_e), with P̄ the mean share of agreeing rater pairs per item and P̄_e = Σ_j p_j².
/// </summary>
public static class FleissKappa
{
    /// <summary>κ from <paramref name="counts"/>[item][category], the number of raters who put the item in each category.</summary>
    public static double FromCounts(IReadOnlyList<IReadOnlyList<int>> counts)
    {
        if (counts.Count == 0) throw new ArgumentException("no items to compare", nameof(counts));
        int categories = counts[0].Count;
        int raters = counts[0].Sum();
        if (raters < 2) throw new ArgumentException($"Fleiss' kappa needs at least two raters per item, got {raters}", nameof(counts));
        var categoryTotals = new double[categories];
        double meanItemAgreement = 0;
        foreach (var item in counts)
        {
            if (item.Count != categories || item.Sum() != raters)
                throw new ArgumentException("every item needs the same categories and the same number of raters", nameof(counts));
            double agreeingPairs = 0;
            for (int j = 0; j < categories; j++)
            {
                agreeingPairs += item[j] * (item[j] - 1);
                categoryTotals[j] += item[j];
            }
            meanItemAgreement += agreeingPairs / (raters * (raters - 1.0));
        }
        meanItemAgreement /= counts.Count;
        double chance = categoryTotals.Sum(t => Math.Pow(t / (counts.Count * (double)raters), 2));
        // All raters used one category throughout: P̄ = P̄_e = 1 and κ is 0/0; report perfect agreement (see CohensKappa).
        return chance >= 1 ? 1 : (meanItemAgreement - chance) / (1 - chance);
    }

    /// <summary>κ from <paramref name="labels"/>[item][annotator].</summary>
    public static double FromLabels<T>(IReadOnlyList<IReadOnlyList<T>> labels) where T : notnull
    {
        var categories = labels.SelectMany(item => item).Distinct().ToList();
        return FromCounts([.. labels.Select(item => (IReadOnlyList<int>)[.. categories.Select(c => item.Count(l => EqualityComparer<T>.Default.Equals(l, c)))])]);
    }
}
