using Reins.Feedback.Annotators;
using Reins.Tensors;

namespace Reins.Feedback.Tests;

public sealed class AnnotatorTests
{
    /// <summary>Gold reward = the number written in the response, so tests choose utilities by writing numbers.</summary>
    private static double NumberGold(string prompt, string response) => double.Parse(response.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);

    private static double FlatGold(string prompt, string response) => 0;

    private static double ShareFirst(SimulatedAnnotator annotator, string first, string second, int draws = 20000) =>
        Enumerable.Range(0, draws).Count(_ => annotator.Compare("p", first, second) == Preference.First) / (double)draws;

    [Fact]
    public void LabelNoiseFlipsTheConfiguredShareOfLabels()
    {
        foreach (double flip in new[] { 0.0, 0.1, AnnotatorProfile.AlpacaFarmFlipProbability })
        {
            var annotator = new SimulatedAnnotator(new AnnotatorProfile(Temperature: 0, FlipProbability: flip), NumberGold, seed: 7);
            // At temperature 0 the better response always wins, so every loss is a flip; 20000 draws give σ ≈ 0.003.
            Assert.Equal(flip, 1 - ShareFirst(annotator, "2", "1"), 0.012);
            Assert.Equal(flip, ShareFirst(annotator, "1", "2"), 0.012);
        }
    }

    [Fact]
    public void PositionBiasFavoursTheFirstResponseWhenPositiveAndTheSecondWhenNegative()
    {
        var first = new SimulatedAnnotator(new AnnotatorProfile(1, PositionBias: 1), FlatGold, seed: 1);
        var second = new SimulatedAnnotator(new AnnotatorProfile(1, PositionBias: -1), FlatGold, seed: 1);
        Assert.Equal(1 / (1 + Math.Exp(-1)), ShareFirst(first, "a", "b"), 0.015);
        Assert.Equal(1 / (1 + Math.Exp(1)), ShareFirst(second, "a", "b"), 0.015);
        Assert.Equal(0.5, ShareFirst(new SimulatedAnnotator(new AnnotatorProfile(1), FlatGold, seed: 1), "a", "b"), 0.015);
    }

    [Fact]
    public void LengthBiasPrefersTheLongerResponseInEitherPosition()
    {
        var annotator = new SimulatedAnnotator(new AnnotatorProfile(1, LengthBias: 0.5), FlatGold, seed: 3);
        const string shorter = "one two", longer = "one two three four";
        Assert.Equal(4, SimulatedAnnotator.WordCount(longer));
        double expected = 1 / (1 + Math.Exp(-0.5 * 2));
        Assert.Equal(expected, ShareFirst(annotator, longer, shorter), 0.015);
        Assert.Equal(1 - expected, ShareFirst(annotator, shorter, longer), 0.015);
        var unbiased = new SimulatedAnnotator(new AnnotatorProfile(1, LengthBias: 0), FlatGold, seed: 3);
        Assert.Equal(0.5, ShareFirst(unbiased, longer, shorter), 0.015);
    }

    [Fact]
    public void AgreementWithGoldFallsAsTemperatureRises()
    {
        // Pairs whose gold rewards differ by amounts spread over [0.05, 2], as real response pairs do.
        var rng = new Rng(5);
        var pairs = Enumerable.Range(0, 4000).Select(_ =>
        {
            double a = rng.NextDouble() * 2, b = a + (0.05 + 1.95 * rng.NextDouble()) * (rng.NextInt(2) == 0 ? 1 : -1);
            return new ResponsePair("p", a.ToString("R", System.Globalization.CultureInfo.InvariantCulture), b.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        }).ToArray();
        var agreement = new[] { 0.0, 0.1, 0.3, 1, 3 }.Select(t =>
        {
            var annotator = new SimulatedAnnotator(new AnnotatorProfile(t), NumberGold, seed: 11);
            return pairs.Count(p => (annotator.Compare(p.Prompt, p.First, p.Second) == Preference.First) == (NumberGold("", p.First) > NumberGold("", p.Second))) / (double)pairs.Length;
        }).ToArray();
        Assert.Equal(1.0, agreement[0]);
        for (int i = 1; i < agreement.Length; i++) Assert.True(agreement[i] < agreement[i - 1] - 0.02, $"agreement {string.Join(", ", agreement)} is not falling");
        Assert.InRange(agreement[^1], 0.5, 0.7);
    }

    [Fact]
    public void ProbabilityFirstCombinesBradleyTerryAndFlips()
    {
        var annotator = new SimulatedAnnotator(new AnnotatorProfile(Temperature: 2, FlipProbability: 0.25, PositionBias: 0.5), NumberGold, seed: 1);
        double choice = 1 / (1 + Math.Exp(-((3.0 - 1.0) / 2 + 0.5)));
        Assert.Equal(0.75 * choice + 0.25 * (1 - choice), annotator.ProbabilityFirst("p", "3", "1"), 12);
        // Temperature 0: the utility decides; on a tie the position bias alone does.
        var greedy = new SimulatedAnnotator(new AnnotatorProfile(0, PositionBias: 2), NumberGold, seed: 1);
        Assert.Equal(1.0, greedy.ProbabilityFirst("p", "2", "1"));
        Assert.Equal(0.0, greedy.ProbabilityFirst("p", "1", "2"));
        Assert.Equal(1 / (1 + Math.Exp(-2)), greedy.ProbabilityFirst("p", "1", "1"), 12);
    }

    private sealed class AlwaysFirst : IPairwiseAnnotator
    {
        public int Asked;
        public string Name => "always-first";
        public Preference Compare(string prompt, string first, string second) { Asked++; return Preference.First; }
    }

    [Fact]
    public void AnExternalMemberIsDrawnLikeTheOthersAndAskedByCompareAll()
    {
        var profiles = AnnotatorProfile.Spread(3, 0.2, 2, flipProbability: 0);
        var external = new AlwaysFirst();
        var pool = new AnnotatorPool(profiles, NumberGold, 5, [external]);
        Assert.Equal(4, pool.Members.Count);
        for (int i = 0; i < 4000; i++) pool.Compare("p", "1", "9");
        // One member in four: 1,000 draws expected; a binomial standard deviation is about 27.
        Assert.InRange(external.Asked, 880, 1120);
        var all = pool.CompareAll("p", "1", "9");
        Assert.Equal(4, all.Length);
        Assert.Equal(Preference.First, all[^1]);
        // Without external members the pool draws exactly as before.
        var plain = new AnnotatorPool(profiles, NumberGold, 5);
        var same = new AnnotatorPool(profiles, NumberGold, 5, []);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => plain.Compare("p", $"{i % 7}", $"{i % 3}")), Enumerable.Range(0, 100).Select(i => same.Compare("p", $"{i % 7}", $"{i % 3}")));
    }

    [Fact]
    public void PoolsAreReproducibleFromTheirSeed()
    {
        var profiles = AnnotatorProfile.Spread(5, 0.2, 2, flipProbability: 0.25, positionBias: 0.3);
        Preference[] Labels(ulong seed)
        {
            var pool = new AnnotatorPool(profiles, NumberGold, seed);
            return [.. Enumerable.Range(0, 200).Select(i => pool.Compare("p", (i % 7).ToString(), (i % 5).ToString()))];
        }
        Assert.Equal(Labels(3), Labels(3));
        Assert.NotEqual(Labels(3), Labels(4));
    }

    [Fact]
    public void SpreadSpacesTemperaturesGeometricallyAndAlternatesPositionBias()
    {
        var profiles = AnnotatorProfile.Spread(3, 0.25, 4, flipProbability: 0.1, lengthBias: 0.05, positionBias: 0.3);
        Assert.Equal([0.25, 1, 4], profiles.Select(p => Math.Round(p.Temperature, 12)));
        Assert.Equal([0.3, -0.3, 0.3], profiles.Select(p => p.PositionBias));
        Assert.All(profiles, p => Assert.Equal((0.1, 0.05), (p.FlipProbability, p.LengthBias)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SimulatedAnnotator(new AnnotatorProfile(1, FlipProbability: 1.5), FlatGold, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SimulatedAnnotator(new AnnotatorProfile(-1), FlatGold, 0));
    }

    [Fact]
    public void AnnotateMakesAPreferenceExampleWithTheWinnerAsChosen()
    {
        var pool = new AnnotatorPool([new AnnotatorProfile(0), new AnnotatorProfile(0)], NumberGold, seed: 1);
        var example = pool.Annotate("p", "1", "5");
        Assert.Equal(("p", "5", "1"), (example.Prompt.Text, example.Chosen.Text, example.Rejected.Text));
    }

    [Fact]
    public void RatingsMapGoldOntoOneToSevenAndNoiseMakesThemUniform()
    {
        var scale = new RatingScale(0, 6);
        Assert.Equal([1, 1, 4, 7, 7], new[] { -3.0, 0, 3, 6, 9 }.Select(scale.ToRating));
        var exact = new SimulatedAnnotator(new AnnotatorProfile(0), NumberGold, seed: 1);
        Assert.Equal(5, exact.Rate("p", "4.2", scale));
        var noisy = new SimulatedAnnotator(new AnnotatorProfile(0, FlipProbability: 1), NumberGold, seed: 1);
        var counts = Enumerable.Range(0, 7000).Select(_ => noisy.Rate("p", "4.2", scale)).CountBy(r => r).ToDictionary();
        Assert.Equal(Enumerable.Range(1, 7), counts.Keys.Order());
        Assert.All(counts.Values, c => Assert.InRange(c, 850, 1150));
        // With temperature the mean rating still rises with the gold reward.
        var warm = new SimulatedAnnotator(new AnnotatorProfile(1), NumberGold, seed: 2);
        double Mean(string r) => Enumerable.Range(0, 2000).Average(_ => warm.Rate("p", r, scale));
        Assert.True(Mean("2") < Mean("3") && Mean("3") < Mean("4"));
    }

    // Rock–paper–scissors among "rock", "paper" and "scissors": +1 when the first beats the second, −1 when it loses.
    private static double CycleMargin(string prompt, string first, string second)
    {
        string[] order = ["rock", "scissors", "paper"];
        int a = Array.IndexOf(order, first), b = Array.IndexOf(order, second);
        return a == b ? 0 : (a + 1) % 3 == b ? 1 : -1;
    }

    [Fact]
    public void APairMarginDecidesWhereNoRewardCould()
    {
        var annotator = new SimulatedAnnotator(new AnnotatorProfile(0), new GoldPreference(FlatGold, CycleMargin), seed: 1);
        // Every relation of the cycle holds, in either order of presentation — no scalar reward orders three items so.
        Assert.Equal(Preference.First, annotator.Compare("p", "rock", "scissors"));
        Assert.Equal(Preference.First, annotator.Compare("p", "scissors", "paper"));
        Assert.Equal(Preference.First, annotator.Compare("p", "paper", "rock"));
        Assert.Equal(Preference.Second, annotator.Compare("p", "scissors", "rock"));
        // Length bias still adds to the margin: 0.5 a word outweighs a lost relation (−1) by three words.
        var biased = new SimulatedAnnotator(new AnnotatorProfile(0, LengthBias: 0.5), new GoldPreference(FlatGold, (p, a, b) => CycleMargin(p, a.Split(' ')[0], b.Split(' ')[0])), seed: 1);
        Assert.Equal(Preference.First, biased.Compare("p", "scissors and then some more", "rock"));
        Assert.Equal(Preference.Second, biased.Compare("p", "scissors too", "rock"));
        // The agreement report measures against the margin too: a careful pool agrees with the cycle on every label.
        ResponsePair[] pairs = [new("p", "rock", "scissors"), new("p", "scissors", "paper"), new("p", "rock", "paper"), new("p", "paper", "paper")];
        var report = AgreementReport.Measure(new AnnotatorPool([new AnnotatorProfile(0), new AnnotatorProfile(0)], new GoldPreference(FlatGold, CycleMargin), 1), pairs);
        Assert.Equal(1.0, report.AgreementWithGold);
    }

    [Fact]
    public void PoolMembersJudgeByTheirOwnGoldAndRecordsNameWhoLabelledThem()
    {
        GoldPreference longer = new((_, r) => r.Length), shorter = new((_, r) => -r.Length);
        var pool = new AnnotatorPool([new AnnotatorProfile(0), new AnnotatorProfile(0)], longer, seed: 3, memberGolds: [longer, shorter]);
        var records = Enumerable.Range(0, 200).Select(_ => pool.Annotate("p", "short", "much longer")).ToArray();
        var byAnnotator = records.GroupBy(r => r.Extra["annotator"].GetString()!).ToDictionary(g => g.Key, g => g.Select(r => r.Chosen.Text).Distinct().Single());
        Assert.Equal("much longer", byAnnotator[AnnotatorPool.SimulatedId(0)]);
        Assert.Equal("short", byAnnotator[AnnotatorPool.SimulatedId(1)]);
        Assert.Equal(2, byAnnotator.Count);
        Assert.Throws<ArgumentException>(() => new AnnotatorPool([new AnnotatorProfile(0)], longer, 1, memberGolds: [longer, shorter]));
    }
}
