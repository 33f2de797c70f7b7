using Reins.Alignment.RewardModeling;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Tensors;

namespace Reins.Rewards.Tests;

/// <summary>Multi-attribute regression reward models and the user-weighted combination of their attributes.</summary>
public class RegressionTests
{
    public RegressionTests() => Engine.Threads = 1;

    [Fact]
    public void RegressionHeadsLearnTheAttributeRuleFarBelowTheMeanPredictor()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<RatingExample>(dir, "train.jsonl", TinySetup.RatingLines(300, seed: 31));
        var eval = TinySetup.Load<RatingExample>(dir, "eval.jsonl", TinySetup.RatingLines(100, seed: 32));
        var run = dir.Path("run");
        var trainer = new RegressionRewardTrainer(TinySetup.Training(run, steps: 120).With(t => t with { EvalSteps = 120 }), TinySetup.LanguageModel(), TinySetup.Encoder, train, eval, TinySetup.Tokenizer.Save);
        Assert.Equal(["a", "b"], trainer.Labels);
        trainer.Train();

        // The MSE of always predicting the training mean of each attribute, on the evaluation set.
        double baseline = 0;
        foreach (var attribute in new[] { "a", "b" })
        {
            double mean = train.Average(r => r[attribute]);
            baseline += eval.Average(r => (r[attribute] - mean) * (r[attribute] - mean)) / 2;
        }
        var final = TinySetup.Metrics(run).Last(r => r.ContainsKey("eval_loss"));
        double mse = TinySetup.Value(final, "eval_loss");
        Assert.True(mse < 0.2 * baseline, $"eval MSE {mse:F3} is not far below the mean predictor's {baseline:F3}");
        Assert.Equal(mse, (TinySetup.Value(final, "eval_mse/a") + TinySetup.Value(final, "eval_mse/b")) / 2, 6);

        var model = RewardModel.Load(run);
        Assert.Equal(["a", "b"], model.Labels);
        Assert.Equal(["a", "b"], model.Normalization!.Labels);
        Assert.Equal(2, model.Network.Config.NumLabels);
    }

    [Fact]
    public void AttributesCombineWithWeightsChosenAtScoringTime()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<RatingExample>(dir, "train.jsonl", TinySetup.RatingLines(40, seed: 33));
        var run = dir.Path("run");
        new RegressionRewardTrainer(TinySetup.Training(run, steps: 5), TinySetup.LanguageModel(), TinySetup.Encoder, train, null, null).Train();
        var model = RewardModel.Load(run);
        var tokenizer = new DatasetTokenizer(TinySetup.Encoder);
        var sequences = train.Take(6).Select(r => tokenizer.Rating(r)!.Sequence).ToArray();

        var raw = model.RawScores(sequences, batchSize: 4);
        var stats = model.Normalization!;
        var weighted = model.Score(sequences, new RewardScoringOptions { Weights = new Dictionary<string, float> { ["a"] = 0.5f, ["b"] = -2f } });
        var onlyA = model.Score(sequences, new RewardScoringOptions { Weights = AttributeWeights.Parse("a=1") });
        var uniformRaw = model.Score(sequences, new RewardScoringOptions { Normalize = false });
        for (int i = 0; i < sequences.Length; i++)
        {
            double za = (raw[2 * i] - stats.Mean[0]) / stats.Std[0], zb = (raw[2 * i + 1] - stats.Mean[1]) / stats.Std[1];
            Assert.Equal(0.5 * za - 2 * zb, weighted.Rewards[i], 4);
            Assert.Equal(za, onlyA.Rewards[i], 4);
            Assert.Equal(za, weighted.Details["a"][i], 4);
            Assert.Equal((raw[2 * i] + raw[2 * i + 1]) / 2, uniformRaw.Rewards[i], 5);
        }
        var error = Assert.Throws<ArgumentException>(() => model.Score(sequences, new RewardScoringOptions { Weights = AttributeWeights.Parse("c=1") }));
        Assert.Contains("'c' is not an output", error.Message);
        Assert.Throws<ArgumentException>(() => AttributeWeights.Parse("a=1,a=2"));
        Assert.Throws<ArgumentException>(() => AttributeWeights.Parse("a:1"));
    }

    [Fact]
    public void RecordsRatingOtherAttributesAreAnErrorNamingTheLine()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<RatingExample>(dir, "train.jsonl", TinySetup.RatingLines(5, seed: 34));
        var other = TinySetup.Load<RatingExample>(dir, "eval.jsonl", ["""{"prompt":"q:","response":"ab","a":1,"c":0}"""]);
        var error = Assert.Throws<InvalidDataException>(() => new RegressionRewardTrainer(TinySetup.Training(dir.Path("run")), TinySetup.LanguageModel(), TinySetup.Encoder, train, other, null));
        Assert.Contains("evaluation set, line 1", error.Message);
    }
}
