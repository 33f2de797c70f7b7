namespace Reins.Feedback.Annotators;

/// <summary>
/// How a pool's members agree with the gold preference and with one another on a set of pairs; reported for every
/// farm run because real crowdworkers agree only 60–75% of the time (AlpacaFarm measured 65%).
/// </summary>
/// <param name="AgreementWithGold">Share of labels that pick the response the pool's gold prefers, over pairs it does not tie.</param>
/// <param name="InterAnnotator">Raw agreement averaged over every pair of members.</param>
/// <param name="CohensKappa">Cohen's κ averaged over every pair of members.</param>
/// <param name="FleissKappa">Fleiss' κ of the whole pool.</param>
/// <param name="Pairs">Response pairs labelled.</param>
public sealed record AgreementReport(double AgreementWithGold, double InterAnnotator, double CohensKappa, double FleissKappa, int Pairs)
{
    /// <summary>
    /// Asks every member of <paramref name="pool"/> about every pair (advancing the members' random streams) and
    /// measures their agreement. Agreement with gold is NaN when no pair's gold rewards differ.
    /// </summary>
    public static AgreementReport Measure(AnnotatorPool pool, IReadOnlyList<ResponsePair> pairs)
    {
        if (pool.Members.Count < 2) throw new ArgumentException("agreement needs a pool of at least two annotators", nameof(pool));
        if (pairs.Count == 0) throw new ArgumentException("no pairs to annotate", nameof(pairs));
        var labels = new IReadOnlyList<Preference>[pairs.Count];
        int withGold = 0, agreeing = 0;
        for (int i = 0; i < pairs.Count; i++)
        {
            var (prompt, first, second) = pairs[i];
            labels[i] = pool.CompareAll(prompt, first, second);
            double difference = pool.Gold.Margin(prompt, first, second);
            if (difference == 0) continue;
            var goldPreference = difference > 0 ? Preference.First : Preference.Second;
            withGold += labels[i].Count;
            agreeing += labels[i].Count(l => l == goldPreference);
        }
        return new AgreementReport(withGold == 0 ? double.NaN : agreeing / (double)withGold, AgreementRate.MeanPairwise(labels),
            Annotators.CohensKappa.MeanPairwise(labels), Annotators.FleissKappa.FromLabels(labels), pairs.Count);
    }
}
