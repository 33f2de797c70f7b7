using Reins.Feedback.Annotators;

namespace Reins.Feedback.Tests;

public sealed class AgreementTests
{
    private static T[] Repeat<T>(T value, int n) => Enumerable.Repeat(value, n).ToArray();

    [Fact]
    public void CohensKappaMatchesTheTextbookExample()
    {
        // Wikipedia's "Cohen's kappa" example: 50 proposals; both say yes 20, A yes/B no 5, A no/B yes 10, both no 15.
        // p_o = 35/50 = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, κ = 0.4.
        string[] a = [.. Repeat("yes", 20), .. Repeat("yes", 5), .. Repeat("no", 10), .. Repeat("no", 15)];
        string[] b = [.. Repeat("yes", 20), .. Repeat("no", 5), .. Repeat("yes", 10), .. Repeat("no", 15)];
        Assert.Equal(0.7, AgreementRate.Between(a, b), 12);
        Assert.Equal(0.4, CohensKappa.Compute(a, b), 12);
        Assert.Equal(1.0, CohensKappa.Compute(a, a), 12);
        // Agreement no better than chance: both say yes half the time, independently.
        Assert.Equal(0.0, CohensKappa.Compute(["y", "y", "n", "n"], ["y", "n", "y", "n"]), 12);
        Assert.Equal(1.0, CohensKappa.Compute(["y", "y"], ["y", "y"]));
    }

    [Fact]
    public void FleissKappaMatchesTheTextbookExample()
    {
        // Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories. Hand computation:
        // P̄ = 688/1820 = 0.378022, P̄_e = 4170/19600 = 0.212755, κ = 0.165267/0.787245 = 0.20993.
        int[][] counts =
        [
            [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
        ];
        Assert.Equal(0.20993, FleissKappa.FromCounts(counts), 4);
    }

    [Fact]
    public void FleissKappaFromLabelsAgreesWithCountsAndWithCohenForTwoRaters()
    {
        string[][] labels = [["a", "a", "b"], ["b", "b", "b"], ["a", "b", "a"], ["a", "a", "a"]];
        int[][] counts = [[2, 1], [0, 3], [2, 1], [3, 0]];
        Assert.Equal(FleissKappa.FromCounts(counts), FleissKappa.FromLabels(labels), 12);
        // Mean pairwise agreement: rater pairs (1,2), (1,3), (2,3) agree on 3, 3 and 2 of 4 items.
        Assert.Equal((3 + 3 + 2) / 12.0, AgreementRate.MeanPairwise(labels), 12);
        Assert.Equal(1.0, FleissKappa.FromLabels([["x", "x"], ["y", "y"]]), 12);
    }

    [Fact]
    public void AgreementReportOfAPerfectPoolIsPerfectAndOfANoisyPoolIsNot()
    {
        static double Gold(string prompt, string response) => response.Length;
        // Gold rewards always differ (lengths 1–5 against 6–8), and the better response comes first in half the pairs.
        ResponsePair[] pairs = [.. Enumerable.Range(0, 400).Select(i => (Short: new string('x', 1 + i % 5), Long: new string('y', 6 + i % 3)))
            .Select((p, i) => i % 2 == 0 ? new ResponsePair("p", p.Short, p.Long) : new ResponsePair("p", p.Long, p.Short))];
        var perfect = AgreementReport.Measure(new AnnotatorPool([new AnnotatorProfile(0), new AnnotatorProfile(0), new AnnotatorProfile(0)], Gold, 1), pairs);
        Assert.Equal((1.0, 1.0, 1.0, 1.0, 400), (perfect.AgreementWithGold, perfect.InterAnnotator, perfect.CohensKappa, perfect.FleissKappa, perfect.Pairs));

        var noisy = AgreementReport.Measure(new AnnotatorPool(AnnotatorProfile.Spread(4, 0.01, 0.02, flipProbability: 0.25), Gold, 1), pairs);
        // Each label is right with probability 0.75 on pairs with a gold difference, so two agree with 0.75² + 0.25².
        Assert.Equal(0.75, noisy.AgreementWithGold, 0.03);
        Assert.InRange(noisy.InterAnnotator, 0.55, 0.70);
        Assert.InRange(noisy.FleissKappa, 0.1, 0.4);
    }
}
