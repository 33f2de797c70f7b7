using Reins.Farm.Evaluation;
using Reins.Feedback.Annotators;
using Reins.Tensors;

namespace Reins.Farm.Tests;

public sealed class EvaluationTests
{
    private static double[] Normal(int n, ulong seed, double mean = 1)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, n).Select(_ => mean + rng.NextNormal())];
    }

    [Fact]
    public void BootstrapIntervalCoversTheMeanAndShrinksWithMorePrompts()
    {
        var small = Bootstrap.Mean(Normal(100, 1), seed: 9);
        var large = Bootstrap.Mean(Normal(1600, 1), seed: 9);
        Assert.Equal(Normal(100, 1).Average(), small.Estimate, 12);
        Assert.True(small.Contains(small.Estimate) && large.Contains(large.Estimate));
        Assert.True(small.Contains(1) && large.Contains(1));
        // Width ∝ 1/√n: 16 times the prompts, a quarter of the width (3.92σ/√n ≈ 0.39 and 0.098).
        double ratio = (large.High - large.Low) / (small.High - small.Low);
        Assert.InRange(ratio, 0.2, 0.32);
        Assert.InRange(small.High - small.Low, 0.3, 0.5);
        Assert.Equal(small, Bootstrap.Mean(Normal(100, 1), seed: 9));
        Assert.NotEqual(small, Bootstrap.Mean(Normal(100, 1), seed: 10));
    }

    [Fact]
    public void BootstrapIntervalsCoverTheTrueMeanAboutNinetyFivePercentOfTheTime()
    {
        int covered = Enumerable.Range(0, 300).Count(i => Bootstrap.Mean(Normal(60, (ulong)(100 + i)), seed: (ulong)i, resamples: 1000).Contains(1));
        // Percentile intervals undercover slightly at small n; 300 trials give a standard error of 1.3%.
        Assert.InRange(covered / 300.0, 0.89, 0.98);
    }

    [Fact]
    public void BootstrapTakesAnyStatisticOfPromptIndices()
    {
        double[] values = [1, 2, 3, 4, 100];
        var median = Bootstrap.Statistic(values.Length, idx => idx.Select(i => values[i]).Order().ElementAt(idx.Count / 2), seed: 1);
        Assert.Equal(3, median.Estimate);
        Assert.True(median.Low >= 1 && median.High <= 100);
        Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean([], seed: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean(values, seed: 1, level: 1));
    }

    [Fact]
    public void WinRateCountsTiesAsHalf()
    {
        Assert.Equal(0.5, WinRate.Of([WinRate.Win, WinRate.Tie, WinRate.Loss]));
        Assert.Equal(0.625, WinRate.Of([1, 1, 0.5, 0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => WinRate.Of([1.5]));
        Assert.Throws<ArgumentException>(() => WinRate.Of([]));
    }

    [Fact]
    public void JudgeTiesIdenticalResponsesAndRandomisesOrderAgainstPositionBias()
    {
        static double Gold(string prompt, string response) => response == "good" ? 1 : 0;
        var prompts = Enumerable.Repeat("p", 4000).ToArray();
        // A judge that nearly always picks the first response and cannot tell the responses apart.
        var positional = new AnnotatorPool([new AnnotatorProfile(1, PositionBias: 4)], (_, _) => 0, seed: 1);
        double rate = WinRate.Of(WinRate.Judge(positional, prompts, Enumerable.Repeat("a", 4000).ToArray(), Enumerable.Repeat("b", 4000).ToArray(), seed: 2));
        Assert.InRange(rate, 0.47, 0.53);
        Assert.All(WinRate.Judge(positional, ["p", "q"], ["same", "x"], ["same", "x"], seed: 2), o => Assert.Equal(WinRate.Tie, o));
        var fair = new AnnotatorPool([new AnnotatorProfile(0)], Gold, seed: 1);
        Assert.Equal([WinRate.Win, WinRate.Loss], WinRate.Judge(fair, ["p", "p"], ["good", "bad"], ["bad", "good"], seed: 3));
    }

    [Fact]
    public void BestOfNBoundIsLogNMinusNMinusOneOverN()
    {
        Assert.Equal(0, BestOfNKlBound.Of(1));
        Assert.Equal(Math.Log(4) - 0.75, BestOfNKlBound.Of(4), 12);
        Assert.Equal(1.8350887222397811, BestOfNKlBound.Of(16), 12);
        Assert.True(BestOfNKlBound.Of(16) > BestOfNKlBound.Of(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => BestOfNKlBound.Of(0));
    }

    [Fact]
    public void KlEstimateSumsLogRatiosOverTokensAndAveragesOverResponses()
    {
        float[][] policy = [[-1f, -2f], [-0.1f]];
        float[][] reference = [[-1.5f, -2.5f], [-0.1f]];
        Assert.Equal([1.0, 0.0], KlEstimate.PerResponse(policy, reference));
        Assert.Equal(0.5, KlEstimate.Mean(policy, reference), 12);
        Assert.Throws<ArgumentException>(() => KlEstimate.Mean([[-1f]], [[-1f, -2f]]));
    }
}
