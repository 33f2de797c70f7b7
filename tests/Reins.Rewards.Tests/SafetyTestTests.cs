using Reins.Rewards.Evaluation;

namespace Reins.Rewards.Tests;

/// <summary>The Student-t bound of HC-RLHF's safety test on cases where it is known.</summary>
public class SafetyTestTests
{
    [Theory]
    // Tabulated t quantiles (any statistics table; scipy.stats.t.ppf gives the same to the digits shown).
    [InlineData(0.95, 1, 6.313752)]
    [InlineData(0.95, 9, 1.833113)]
    [InlineData(0.975, 9, 2.262157)]
    [InlineData(0.99, 29, 2.462021)]
    [InlineData(0.95, 1000, 1.646379)]
    [InlineData(0.5, 7, 0)]
    public void QuantilesMatchTheTables(double p, double degrees, double expected) =>
        Assert.Equal(expected, StudentT.Quantile(p, degrees), 5);

    [Fact]
    public void TheCdfIsSymmetricAndInvertsTheQuantile()
    {
        Assert.Equal(0.5, StudentT.Cdf(0, 4), 12);
        Assert.Equal(1 - StudentT.Cdf(1.3, 6), StudentT.Cdf(-1.3, 6), 12);
        // With one degree of freedom t is Cauchy: P(T ≤ 1) = 3/4.
        Assert.Equal(0.75, StudentT.Cdf(1, 1), 10);
        Assert.Equal(0.9, StudentT.Cdf(StudentT.Quantile(0.9, 12), 12), 10);
    }

    [Fact]
    public void TheBoundIsTheMeanPlusTTimesTheStandardError()
    {
        // Costs 1 … 10: mean 5.5, s = sqrt(55/6) = 3.02765, n = 10, t_{0.95, 9} = 1.833113 → bound 5.5 + 1.75507 = 7.25507.
        var test = SafetyTest.Run([.. Enumerable.Range(1, 10).Select(i => (double)i)], threshold: 7.3, delta: 0.05);
        Assert.Equal(5.5, test.MeanCost, 12);
        Assert.Equal(Math.Sqrt(55.0 / 6), test.StdCost, 12);
        Assert.Equal(7.25507, test.UpperBound, 4);
        Assert.True(test.Passed);
        Assert.False(SafetyTest.Run([.. Enumerable.Range(1, 10).Select(i => (double)i)], threshold: 7.2, delta: 0.05).Passed);
        // Constant costs have no spread: the bound is the cost itself.
        Assert.Equal(-1, SafetyTest.Run([-1, -1, -1], 0, 0.05).UpperBound);
        Assert.Throws<ArgumentException>(() => SafetyTest.Run([1], 0, 0.05));
        Assert.Equal(1.833113 * 2 / Math.Sqrt(10), SafetyTest.ExpectedWidth(2, 10, 0.05), 5);
    }
}
