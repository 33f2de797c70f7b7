using Reins.Alignment.Training;
using System.Text.Json.Nodes;
using Reins.Alignment.RewardModeling;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Rewards.Tests;

/// <summary>The Bradley–Terry reward trainer on preferences decided by a known rule.</summary>
public class PairwiseTrainingTests
{
    public PairwiseTrainingTests() => Engine.Threads = 1;

    [Fact]
    public void LearnsTheRuleToHighHeldOutAccuracyAndLogsRewardMetrics()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", TinySetup.PreferenceLines(400, seed: 1));
        var eval = TinySetup.Load<PreferenceExample>(dir, "eval.jsonl", TinySetup.PreferenceLines(200, seed: 2));
        var run = dir.Path("run");
        var result = new RewardTrainer(TinySetup.Training(run, steps: 60).With(t => t with { LoggingSteps = 10 }), TinySetup.LanguageModel(), TinySetup.Encoder, train, eval, TinySetup.Tokenizer.Save).Train();
        Assert.False(result.Interrupted);

        var rows = TinySetup.Metrics(run);
        var final = rows.Last(r => r.ContainsKey("eval_accuracy"));
        double accuracy = TinySetup.Value(final, "eval_accuracy");
        Assert.True(accuracy >= 0.9, $"held-out pairwise accuracy {accuracy:F3} < 0.9");
        // Overall accuracy is the pair-weighted mean of the categories' accuracies.
        int easy = eval.Count(e => e.Extra["category"].GetString() == "easy");
        double pooled = (easy * TinySetup.Value(final, "eval_accuracy/easy") + (eval.Count - easy) * TinySetup.Value(final, "eval_accuracy/hard")) / eval.Count;
        Assert.Equal(accuracy, pooled, 9);
        Assert.True(TinySetup.Value(final, "eval_margin") > 0);
        double ece = TinySetup.Value(final, "eval_ece");
        Assert.InRange(ece, 0, 1);
        Assert.Equal(TinySetup.Value(final, "eval_margin"), TinySetup.Value(final, "eval_rewards/chosen") - TinySetup.Value(final, "eval_rewards/rejected"), 4);

        var trainRows = rows.Where(r => r.ContainsKey("loss")).ToList();
        foreach (var key in new[] { "accuracy", "margin", "rewards/chosen", "rewards/rejected", "grad_norm" })
            Assert.True(trainRows[0].ContainsKey(key), $"metrics.jsonl lacks {key}");
        Assert.True(TinySetup.Value(trainRows[^1], "loss") < TinySetup.Value(trainRows[0], "loss"));

        // The saved directory is a transformers …ForSequenceClassification whose pad id is not EOS.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
        Assert.Equal("GPT2ForSequenceClassification", config["architectures"]![0]!.GetValue<string>());
        Assert.Equal(1, config["num_labels"]!.GetValue<int>());
        Assert.NotEqual(config["eos_token_id"]!.GetValue<int>(), config["pad_token_id"]!.GetValue<int>());
        var model = RewardModel.Load(run);
        Assert.NotNull(model.Normalization);
    }

    [Fact]
    public void SavedNormalizationIsTheMeanAndStdOfTheFinalModelsScoresOnTheTrainingSequences()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", TinySetup.PreferenceLines(60, seed: 3));
        var run = dir.Path("run");
        new RewardTrainer(TinySetup.Training(run, steps: 10), TinySetup.LanguageModel(), TinySetup.Encoder, train, null, null).Train();

        var model = RewardModel.Load(run);
        var tokenizer = new DatasetTokenizer(TinySetup.Encoder);
        var sequences = train.Select(tokenizer.Preference).SelectMany(p => new[] { p!.Chosen, p.Rejected }).ToArray();
        var scores = model.RawScores(sequences, batchSize: 7);
        double mean = scores.Average(s => (double)s);
        double std = Math.Sqrt(scores.Average(s => (s - mean) * (s - mean)));
        var saved = model.Normalization!;
        Assert.Equal(sequences.Length, saved.Count);
        Assert.Equal(mean, saved.Mean[0], 5);
        Assert.Equal(std, saved.Std[0], 5);
        Assert.True(std > 1e-4, "scores of distinct sequences should vary");

        // A larger training set is represented by a seeded sample of reward_normalization_samples sequences.
        var sampled = new RewardTrainer(TinySetup.Training(dir.Path("sampled"), steps: 1) with { RewardNormalizationSamples = 30 },
            TinySetup.LanguageModel(), TinySetup.Encoder, train, null, null).NormalizationStatistics();
        Assert.Equal(30, sampled.Count);
        Assert.NotEqual(saved.Mean[0], sampled.Mean[0]);

        // The scorer applies them: standardised rewards of the reference set have mean 0 and std 1.
        var standardised = model.Score(sequences, new Scoring.RewardScoringOptions()).Rewards;
        Assert.Equal(0, standardised.Average(s => (double)s), 4);
        Assert.Equal(1, Math.Sqrt(standardised.Average(s => (double)s * s)), 4);
    }

    [Fact]
    public void NormalizationRoundTripsThroughSaveAndLoad()
    {
        using var dir = new TempDirectory();
        var stats = new RewardNormalization(["helpfulness", "verbosity"], [0.25f, -3.5f], [1.5f, 0.125f], 1234);
        stats.Save(dir.Root);
        var loaded = RewardNormalization.Load(dir.Root)!;
        Assert.Equal(stats.Labels, loaded.Labels);
        Assert.Equal(stats.Mean, loaded.Mean);
        Assert.Equal(stats.Std, loaded.Std);
        Assert.Equal(stats.Count, loaded.Count);
        Assert.Equal([(1f - 0.25f) / 1.5f, (-3f + 3.5f) / 0.125f], loaded.Normalize([1f, -3f]));
        Assert.Null(RewardNormalization.Load(dir.Path("missing")));

        File.WriteAllText(Path.Combine(dir.Root, RewardNormalization.FileName), """{"labels":["a"],"mean":[0,1],"std":[1]}""");
        var error = Assert.Throws<InvalidDataException>(() => RewardNormalization.Load(dir.Root));
        Assert.Contains("one entry per label", error.Message);
    }

    [Fact]
    public void ResumingAfterAnInterruptionGivesTheSameRunAsNoInterruption()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", TinySetup.PreferenceLines(50, seed: 4));
        var eval = TinySetup.Load<PreferenceExample>(dir, "eval.jsonl", TinySetup.PreferenceLines(20, seed: 5));
        RewardConfig Settings(string run) => TinySetup.Training(run, steps: 8).With(t => t with { LoggingSteps = 1, EvalSteps = 3, SaveSteps = 2, PerDeviceTrainBatchSize = 8 });
        RewardTrainer Trainer(string run) => new(Settings(run), TinySetup.LanguageModel(), TinySetup.Encoder, train, eval, null);

        string whole = dir.Path("whole"), split = dir.Path("split");
        Trainer(whole).Train();
        using (var cancel = new CancellationTokenSource())
        {
            var stopAtFive = new SynchronousProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>(p => { if (p.Step == 5) cancel.Cancel(); });
            var first = Trainer(split).Train(cancellation: cancel.Token, progress: stopAtFive);
            Assert.True(first.Interrupted);
            Assert.Equal(5, first.Steps);
        }
        var second = Trainer(split).Train(resume: true);
        Assert.Equal(8, second.Steps);

        Assert.Equal(File.ReadAllLines(Path.Combine(whole, "metrics.jsonl")), File.ReadAllLines(Path.Combine(split, "metrics.jsonl")));
        Assert.Equal(File.ReadAllText(Path.Combine(whole, RewardNormalization.FileName)), File.ReadAllText(Path.Combine(split, RewardNormalization.FileName)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "model.safetensors")), File.ReadAllBytes(Path.Combine(split, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(split, "checkpoint-5", RewardNormalization.FileName)), "an interrupted run's checkpoint carries its statistics");
    }

    [Fact]
    public void MarginFieldIsSubtractedFromTheRewardDifference()
    {
        using var dir = new TempDirectory();
        var lines = TinySetup.PreferenceLines(16, seed: 6);
        var withMargin = lines.Select(l => { var o = JsonNode.Parse(l)!.AsObject(); o["margin"] = 6.0; return o.ToJsonString(); }).ToArray();
        double FirstLoss(string name, string[] data)
        {
            var run = dir.Path(name);
            new RewardTrainer(TinySetup.Training(run, steps: 1).With(t => t with { LoggingSteps = 1 }), TinySetup.LanguageModel(), TinySetup.Encoder,
                TinySetup.Load<PreferenceExample>(dir, name + ".jsonl", data), null, null).Train();
            return TinySetup.Value(TinySetup.Metrics(run)[0], "loss");
        }
        double plain = FirstLoss("plain", lines), shifted = FirstLoss("margin", withMargin);
        // At initialisation r_c − r_r ≈ 0, so −log σ(−6) ≈ 6.0025 against ln 2.
        Assert.Equal(Math.Log(2), plain, 1);
        Assert.Equal(6.0025, shifted, 1);

        var mixed = withMargin.Take(8).Concat(lines.Skip(8)).ToArray();
        var error = Assert.Throws<InvalidDataException>(() => new RewardTrainer(TinySetup.Training(dir.Path("mixed")), TinySetup.LanguageModel(), TinySetup.Encoder,
            TinySetup.Load<PreferenceExample>(dir, "mixed.jsonl", mixed), null, null));
        Assert.Contains("line 9", error.Message);
        Assert.Contains("margin", error.Message);
    }

    [Fact]
    public void PairsLongerThanMaxLengthAreDroppedAndCounted()
    {
        using var dir = new TempDirectory();
        var lines = TinySetup.PreferenceLines(10, seed: 8).Concat(TinySetup.PreferenceLines(3, seed: 9, minLength: 20, maxLength: 20)).ToArray();
        // BOS + "q:" + up to 10 letters + EOS = at most 14 tokens fit max_length 16; 24-token pairs do not.
        var trainer = new RewardTrainer(TinySetup.Training(dir.Path("run")) with { MaxLength = 16 }, TinySetup.LanguageModel(), TinySetup.Encoder,
            TinySetup.Load<PreferenceExample>(dir, "train.jsonl", lines), null, null);
        Assert.Equal((3, 0), trainer.DroppedTooLong);
        Assert.Equal(16, trainer.MaxLength);
        // max_length above the model's 32 positions is capped there.
        var capped = new RewardTrainer(TinySetup.Training(dir.Path("run2")) with { MaxLength = 4096 }, TinySetup.LanguageModel(), TinySetup.Encoder,
            TinySetup.Load<PreferenceExample>(dir, "train2.jsonl", lines), null, null);
        Assert.Equal(32, capped.MaxLength);
    }
}
