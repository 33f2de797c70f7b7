namespace Reins.Feedback.Annotators;

/// <summary>
/// Cohen's κ (Cohen 1960): agreement between two annotators corrected for the agreement their label frequencies
/// would give by chance, κ = (p_o − p_e) / (1 − p_e).
/// </summary>
public static class CohensKappa
{
    /// <summary>κ of two annotators' labels of the same items, in item order.</summary>
    public static double Compute<T>(IReadOnlyList<T> a, IReadOnlyList<T> b) where T : notnull
    {
        AgreementRate.CheckSameLength(a.Count, b.Count);
        double observed = AgreementRate.Between(a, b);
        var countsA = a.CountBy(x => x).ToDictionary();
        var countsB = b.CountBy(x => x).ToDictionary();
        // p_e: the chance that two independent draws from the annotators' own label frequencies coincide.
        double n = a.Count, expected = 0;
        foreach (var (label, countA) in countsA)
            if (countsB.TryGetValue(label, out int countB)) expected += countA / n * (countB / n);
        // When both annotators gave one and the same label throughout, p_e = p_o = 1 and κ is 0/0; they agree on
        // everything, so report 1 rather than a NaN that would poison averages and JSON.
        return expected >= 1 ? 1 : (observed - expected) / (1 - expected);
    }

    /// <summary>κ averaged over every unordered pair of annotators; <paramref name="labels"/>[item][annotator].</summary>
    public static double MeanPairwise<T>(IReadOnlyList<IReadOnlyList<T>> labels) where T : notnull =>
        AgreementRate.OverAnnotatorPairs(labels, Compute);
}
