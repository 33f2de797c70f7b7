using System.Text.Json.Nodes;
using Reins.Alignment.RewardModeling;
using Reins.Feedback.Datasets;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Rewards.Tests;

/// <summary>
/// ArmoRM's gating stage on a regression model of three attributes — the counts of 'a' and of 'b' and the length — where
/// the prompt says which count the rater wants: "qa:" prefers more 'a', "qb:" more 'b'.
/// </summary>
public class GatingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private readonly Xunit.Abstractions.ITestOutputHelper output = InitThreads(output);

    private static Xunit.Abstractions.ITestOutputHelper InitThreads(Xunit.Abstractions.ITestOutputHelper output) { Engine.Threads = 1; return output; }

    private static string[] Ratings(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            string text = TinySetup.RandomText(rng, "abcd", 3 + rng.NextInt(8));
            return new JsonObject { ["prompt"] = i % 2 == 0 ? "qa:" : "qb:", ["response"] = text, ["a"] = TinySetup.Count(text, 'a'), ["b"] = TinySetup.Count(text, 'b'), ["length"] = text.Length }.ToJsonString();
        })];
    }

    private static string[] Preferences(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var lines = new List<string>();
        while (lines.Count < count)
        {
            char letter = lines.Count % 2 == 0 ? 'a' : 'b';
            string x = TinySetup.RandomText(rng, "abcd", 3 + rng.NextInt(8)), y = TinySetup.RandomText(rng, "abcd", 3 + rng.NextInt(8));
            int cx = TinySetup.Count(x, letter), cy = TinySetup.Count(y, letter);
            if (cx == cy) continue;
            var (chosen, rejected) = cx > cy ? (x, y) : (y, x);
            lines.Add(new JsonObject { ["prompt"] = $"q{letter}:", ["chosen"] = chosen, ["rejected"] = rejected, ["category"] = $"wants {letter}" }.ToJsonString());
        }
        return [.. lines];
    }

    [Fact]
    public void TheGateLearnsWhichAttributeEachPromptWantsWithTheTrunkFrozen()
    {
        using var dir = new TempDirectory();
        string regressionRun = dir.Path("regression"), gateRun = dir.Path("gate");
        var ratings = TinySetup.Load<RatingExample>(dir, "ratings.jsonl", Ratings(400, seed: 1));
        new RegressionRewardTrainer(TinySetup.Training(regressionRun, steps: 200), TinySetup.LanguageModel(), TinySetup.Encoder, ratings, null, TinySetup.Tokenizer.Save).Train();
        var regression = RewardModel.Load(regressionRun);

        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", Preferences(300, seed: 2));
        var eval = TinySetup.Load<PreferenceExample>(dir, "eval.jsonl", Preferences(200, seed: 3));
        var config = TinySetup.Training(gateRun, steps: 100).With(t => t with { LearningRate = 3e-2f, LoggingSteps = 10 });
        var trainer = new AttributeGatingTrainer(config, regression, TinySetup.Encoder, train, eval, TinySetup.Tokenizer.Save, verbosity: "length");
        trainer.Train();

        var final = TinySetup.Metrics(gateRun).Last(r => r.ContainsKey("eval_accuracy"));
        Assert.True(TinySetup.Value(final, "eval_accuracy") >= 0.85, final.ToJsonString());
        // The fixed mean of the attributes cannot serve both kinds of prompt as well.
        var tokenizer = new Reins.Feedback.Tokenization.DatasetTokenizer(TinySetup.Encoder);
        var pairs = eval.Select(e => tokenizer.Preference(e)!).ToArray();
        var chosenMean = regression.Score([.. pairs.Select(p => p.Chosen)], new Scoring.RewardScoringOptions()).Rewards;
        var rejectedMean = regression.Score([.. pairs.Select(p => p.Rejected)], new Scoring.RewardScoringOptions()).Rewards;
        double meanAccuracy = pairs.Select((_, i) => chosenMean[i] > rejectedMean[i]).Count(c => c) / (double)pairs.Length;
        Assert.True(TinySetup.Value(final, "eval_accuracy") >= meanAccuracy + 0.1, $"gated {TinySetup.Value(final, "eval_accuracy"):F3} vs mean of attributes {meanAccuracy:F3}");

        // Loaded, the gate weighs 'a' for "qa:" prompts and 'b' for "qb:" ones; the trunk is the regression model's.
        var gated = GatedRewardModel.Load(gateRun);
        var (_, gates) = gated.Score([.. pairs.Select(p => p.Chosen)], 16);
        int k = gated.Settings.Attributes.Count, a = 0, b = 1;
        double GateOf(string prompt, int attribute) => Enumerable.Range(0, pairs.Length).Where(i => eval[i].Prompt.Text == prompt).Average(i => gates[i * k + attribute]);
        output.WriteLine($"gated {TinySetup.Value(final, "eval_accuracy"):F3}, mean of attributes {meanAccuracy:F3}; gates qa: a {GateOf("qa:", a):F2} b {GateOf("qa:", b):F2}, qb: a {GateOf("qb:", a):F2} b {GateOf("qb:", b):F2}; λ {string.Join(", ", gated.Settings.Decorrelation.Select(x => x.ToString("F2")))}");
        Assert.True(GateOf("qa:", a) > GateOf("qa:", b) && GateOf("qb:", b) > GateOf("qb:", a), $"qa: {GateOf("qa:", a):F2}/{GateOf("qa:", b):F2}, qb: {GateOf("qb:", a):F2}/{GateOf("qb:", b):F2}");
        foreach (var p in gated.Network.Parameters.Where(p => !p.Name!.StartsWith("score.")))
            Assert.Equal(regression.Network[p.Name!].ToArray(), p.ToArray());
        Assert.Contains("gated", Assert.Throws<InvalidDataException>(() => RewardModel.Load(gateRun)).Message);

        // Decorrelation: the adjusted 'a' and 'b' scores are uncorrelated with length over the training responses.
        var sequences = train.Select(e => tokenizer.Preference(e)!).SelectMany(p => new[] { p.Chosen, p.Rejected }).ToArray();
        var standardised = regression.Normalization!.Normalize(regression.RawScores(sequences, 16));
        int v = 2;
        foreach (int j in new[] { a, b })
        {
            var adjusted = Enumerable.Range(0, sequences.Length).Select(i => standardised[i * 3 + j] - gated.Settings.Decorrelation[j] * standardised[i * 3 + v]).ToArray();
            var length = Enumerable.Range(0, sequences.Length).Select(i => standardised[i * 3 + v]).ToArray();
            double ma = adjusted.Average(), ml = length.Average();
            double covariance = adjusted.Zip(length).Sum(x => (x.First - ma) * (x.Second - ml)) / sequences.Length;
            Assert.True(Math.Abs(covariance) < 1e-3, $"cov(r'_{j}, length) = {covariance}");
            Assert.NotEqual(0f, gated.Settings.Decorrelation[j]);
        }
        Assert.Equal(0f, gated.Settings.Decorrelation[v]);
    }
}
