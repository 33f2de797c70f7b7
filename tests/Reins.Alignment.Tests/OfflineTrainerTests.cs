using System.Text.Json.Nodes;
using Reins.Alignment.Dpo;
using Reins.Alignment.Objectives;
using Reins.Alignment.Kto;
using Reins.Alignment.Sft;
using Reins.Alignment.Training;
using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.Tests;

/// <summary>End-to-end checks of the offline trainers on tiny models and synthetic data.</summary>
public sealed class OfflineTrainerTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "reins-trainer-" + Guid.NewGuid().ToString("N"));
    private static readonly Tokenizer Bytes = Tokenizer.CreateByteLevel(260);
    private static readonly TokenizerEncoder Encoder = new(Bytes);

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
    }

    private static CausalLanguageModel TinyModel(ulong seed = 1) => CausalLanguageModel.Create(
        ModelConfig.Llama(vocab: 260, hidden: 32, layers: 2, heads: 4, maxPositions: 64, kvHeads: 2) with { BosTokenId = Bytes.BosId, EosTokenId = Bytes.EosId, PadTokenId = Bytes.PadId }, seed);

    private static TextOrConversation T(string s) => TextOrConversation.FromText(s);

    // Preferences from a known rule: affirmative replies beat negative ones, whatever the prompt.
    private static List<PreferenceExample> Pairs(int count, ulong seed)
    {
        string[] good = ["yes", "sure", "ok"], bad = ["no", "nah", "nope"];
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
            new PreferenceExample(T("q" + (char)('a' + rng.NextInt(26)) + (char)('a' + rng.NextInt(26)) + ":"), T(good[rng.NextInt(3)]), T(bad[rng.NextInt(3)])))];
    }

    [Fact]
    public void DpoRaisesHeldOutImplicitRewardAccuracyAndMovesTheRatioTheRightWay()
    {
        Engine.Threads = 1;
        var config = new DpoConfig
        {
            Training = new() { OutputDir = dir, MaxSteps = 40, LearningRate = 3e-3f, PerDeviceTrainBatchSize = 8, LoggingSteps = 10, Seed = 3 },
            Loss = new() { Beta = 0.1f },
        };
        var heldOut = Pairs(40, 99);
        var trainer = new DpoTrainer(config, TinyModel(), TinyModel(), Encoder, Pairs(64, 1), heldOut, null);
        trainer.Train();
        var rows = File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        var eval = rows.Last(r => r["eval_rewards/accuracies"] is not null);
        Assert.True(eval["eval_rewards/accuracies"]!.GetValue<double>() > 0.8, $"held-out implicit-reward accuracy {eval["eval_rewards/accuracies"]}");
        Assert.True(eval["eval_rewards/margins"]!.GetValue<double>() > 0, "the chosen/rejected likelihood ratio moved the wrong way");
        Assert.True(rows.First(r => r["loss"] is not null)["loss"]!.GetValue<double>() > rows.Last(r => r["loss"] is not null)["loss"]!.GetValue<double>());
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors")));
        Assert.NotNull(JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))![RunDirectory.SettingsKey]);
    }

    [Fact]
    public void PromptLogitsCannotReachTheLoss()
    {
        // The logits at position t predict token t+1: only positions whose next token is a completion token may carry
        // gradient. A prompt token leaking in, or an off-by-one shift, would show up as a non-zero row elsewhere.
        var pair = new DatasetTokenizer(Encoder, new TokenizationOptions { MaxLength = null }).Preference(new PreferenceExample(T("prompt!"), T("good"), T("badly")))!;
        var batch = new BatchCollator(PaddingOptions.For(Encoder)).Preference([pair]);
        var tokens = batch.Tokens;
        var logits = Tensor.Parameter("logits", Tensor.Normal(new Rng(4), 0, 1, tokens.Rows * tokens.Length, 260));
        using (var tape = new Tape())
        {
            var perToken = Ops.TokenLogProbs(logits, tokens.NextTokenTargets());
            var sums = Ops.Sum(Ops.Reshape(perToken, tokens.Rows, tokens.Length), 1);
            var loss = DirectPreferenceLoss.Compute(new PreferenceLogProbs(Ops.Narrow0(sums, 0, 1), Ops.Narrow0(sums, 1, 1),
                Tensor.FromArray([-3f], 1), Tensor.FromArray([-4f], 1), [5], [6]), new PreferenceLossOptions()).Loss;
            tape.Backward(loss);
        }
        var grad = logits.Grad!.ToArray();
        for (int r = 0; r < tokens.Rows; r++)
        {
            int promptLength = pair.Chosen.Labels.TakeWhile(l => l == -100).Count();
            int completionLength = r == 0 ? pair.Chosen.Length - promptLength : pair.Rejected.Length - promptLength;
            for (int t = 0; t < tokens.Length; t++)
            {
                bool predictsCompletion = t >= promptLength - 1 && t < promptLength - 1 + completionLength;
                double norm = grad.AsSpan((r * tokens.Length + t) * 260, 260).ToArray().Sum(x => Math.Abs(x));
                Assert.True(predictsCompletion ? norm > 0 : norm == 0, $"row {r} position {t}: gradient {norm} (prompt length {promptLength})");
            }
        }
    }

    private SftTrainer Sft(string output, int maxSteps, int loggingSteps = 1) => new(
        new SftConfig
        {
            Training = new()
            {
                OutputDir = output, MaxSteps = maxSteps, SaveSteps = 3, LoggingSteps = loggingSteps, LearningRate = 1e-2f, PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 2,
                Seed = 5, WarmupRatio = 0.2, LrSchedulerType = "cosine",
            },
        },
        TinyModel(7), Encoder, [.. Enumerable.Range(0, 30).Select(i => new PromptCompletionExample(T($"n{i}="), T(new string((char)('a' + i % 5), 3 + i % 4))))], null, null);

    // With a row every 3 steps, the stop after step 5 falls inside the window of steps 4–6: the row at 6 must still
    // average all three.
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ResumedRunReproducesTheUninterruptedOneExactly(int loggingSteps)
    {
        Engine.Threads = 1;
        string straight = Path.Combine(dir, "straight"), resumed = Path.Combine(dir, "resumed");
        Sft(straight, 8, loggingSteps).Train();

        using var cts = new CancellationTokenSource();
        var first = Sft(resumed, 8, loggingSteps).Train(cancellation: cts.Token, progress: new SynchronousProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>(p => { if (p.Step == 5) cts.Cancel(); }));
        Assert.True(first.Interrupted);
        Assert.Equal(5, first.Steps);
        var second = Sft(resumed, 8, loggingSteps).Train(resume: true);
        Assert.False(second.Interrupted);

        Assert.Equal(File.ReadAllLines(Path.Combine(straight, "metrics.jsonl")), File.ReadAllLines(Path.Combine(resumed, "metrics.jsonl")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(resumed, "model.safetensors")));
    }

    // β = 1e38 scales the DPO gradient past float's range at the first step, whose loss (ln 2) is still finite.
    private DpoTrainer Overflowing(string output, bool skip) => new(
        new DpoConfig
        {
            Training = new() { OutputDir = output, MaxSteps = 3, SaveSteps = 1, LoggingSteps = 1, LearningRate = 1e-3f, MaxGradNorm = 0, PerDeviceTrainBatchSize = 4, SkipNonfiniteSteps = skip },
            Loss = new() { Beta = 1e38f },
        },
        TinyModel(3), TinyModel(3), Encoder, Pairs(8, 2), null, null);

    private static bool Finite(CausalLanguageModel model) => model.Parameters.All(p => p.ToArray().All(float.IsFinite));

    [Fact]
    public void ANonFiniteGradientStopsTheRunBeforeTheUpdate()
    {
        Engine.Threads = 1;
        var trainer = Overflowing(Path.Combine(dir, "overflow"), skip: false);
        var error = Assert.Throws<NonFiniteTrainingException>(() => trainer.Train());
        Assert.StartsWith("step 1: grad_norm is ", error.Message);
        Assert.True(Finite(trainer.Model), "the failing step was applied");
        Assert.False(File.Exists(Path.Combine(dir, "overflow", "model.safetensors")));

        // Asked to, the run skips such steps instead (here every one), counts them, and saves what it has.
        var skipping = Overflowing(Path.Combine(dir, "skipping"), skip: true);
        skipping.Train();
        Assert.Equal([1.0, 1.0, 1.0], File.ReadLines(Path.Combine(dir, "skipping", "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["nonfinite_skipped"]!.GetValue<double>()));
        Assert.True(Finite(skipping.Model));
    }

    [Fact]
    public void AnUpdateThatOverflowsTheWeightsStopsTheRunAndNoCheckpointHoldsThem()
    {
        Engine.Threads = 1;
        string run = Path.Combine(dir, "diverged");
        // AdamW moves every weight by about the learning rate: at 1e38 a few steps pass float's range, while the
        // normalised forward pass can still give a finite loss.
        var trainer = new SftTrainer(new SftConfig
        {
            Training = new() { OutputDir = run, MaxSteps = 8, SaveSteps = 1, LoggingSteps = 1, LearningRate = 1e38f, MaxGradNorm = 0, PerDeviceTrainBatchSize = 4 },
        }, TinyModel(3), Encoder, [.. Enumerable.Range(0, 8).Select(i => new PromptCompletionExample(T($"n{i}="), T("abc")))], null, null);
        Assert.IsType<NonFiniteTrainingException>(Record.Exception(() => trainer.Train()));
        Assert.False(File.Exists(Path.Combine(run, "model.safetensors")));
        foreach (var (_, checkpoint) in trainer.Run.Checkpoints())
            Assert.True(Finite(Models.Checkpoints.HfCheckpoint.Load(checkpoint)), checkpoint);
    }

    [Fact]
    public void OptimiserSettingsOutsideTheirRangeAreRefusedByName()
    {
        foreach (var (arguments, key) in new (TrainingArguments, string)[]
        {
            (new() { AdamBeta1 = 1 }, "adam_beta1"), (new() { AdamBeta2 = -0.5f }, "adam_beta2"), (new() { AdamEpsilon = 0 }, "adam_epsilon"),
            (new() { LearningRate = float.PositiveInfinity }, "learning_rate"), (new() { WeightDecay = float.NaN }, "weight_decay"),
        })
            Assert.StartsWith(key + ":", Assert.Throws<ArgumentException>(arguments.Validate).Message);
        var binder = Assert.Throws<ArgumentException>(() => ConfigBinder.Resolve<SftConfig>(null, new Dictionary<string, string> { ["learning_rate"] = "NaN" }));
        Assert.Equal("--learning-rate: 'learning_rate' must be a finite number, got NaN.", binder.Message);
    }

    [Fact]
    public void ARunDirectoryServesOneRunAtATime()
    {
        var run = new RunDirectory(Path.Combine(dir, "claimed"));
        using (run.Claim(resume: false, overwrite: false))
        {
            Assert.Contains("another run is using this output directory", Assert.Throws<IOException>(() => run.Claim(resume: true, overwrite: false)).Message);
            File.WriteAllText(run.MetricsPath, "{\"step\":1}\n");
            Directory.CreateDirectory(run.CheckpointPath(1));
        }
        // Released: a fresh run is refused over the earlier one's files, a resume is not, and overwrite clears them.
        Assert.Contains("already holds files of an earlier run", Assert.Throws<IOException>(() => run.Claim(resume: false, overwrite: false)).Message);
        run.Claim(resume: true, overwrite: false).Dispose();
        Directory.CreateDirectory(Path.Combine(run.Path, ".checkpoint-2.tmp-12345"));
        File.WriteAllText(Path.Combine(run.Path, "config.json.tmp"), "half");
        run.Claim(resume: false, overwrite: true).Dispose();
        Assert.Equal([RunDirectory.LockFileName], Directory.EnumerateFileSystemEntries(run.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void SftLearnsCompletionsAndReportsPerplexity()
    {
        var examples = Enumerable.Range(0, 40).Select(i => new PromptCompletionExample(T($"{i % 4}>"), T(new[] { "alpha", "beta", "gamma", "delta" }[i % 4]))).ToList<Example>();
        var config = new SftConfig { Training = new() { OutputDir = dir, MaxSteps = 60, LearningRate = 1e-2f, PerDeviceTrainBatchSize = 8, LoggingSteps = 20, EvalSteps = 60 } };
        var trainer = new SftTrainer(config, TinyModel(), Encoder, examples, examples.Take(8).ToList(), null);
        trainer.Train();
        var rows = File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        var eval = rows.Last(r => r["eval_loss"] is not null);
        double loss = eval["eval_loss"]!.GetValue<double>();
        Assert.True(loss < 1.0, $"eval loss {loss}");
        Assert.Equal(Math.Exp(loss), eval["eval_perplexity"]!.GetValue<double>(), 6);
        Assert.True(rows.Last(r => r["mean_token_accuracy"] is not null)["mean_token_accuracy"]!.GetValue<double>() > 0.8);
    }

    [Fact]
    public void EvalFractionEvaluatesOnAHeldOutShareWhenNoEvalSetIsGiven()
    {
        var examples = Enumerable.Range(0, 40).Select(i => new PromptCompletionExample(T($"{i % 4}>"), T(new[] { "alpha", "beta", "gamma", "delta" }[i % 4]))).ToList<Example>();
        var config = new SftConfig { Training = new() { OutputDir = dir, MaxSteps = 4, LearningRate = 1e-2f, PerDeviceTrainBatchSize = 8, LoggingSteps = 2, EvalSteps = 2, EvalFraction = 0.25 } };
        var trainer = new SftTrainer(config, TinyModel(), Encoder, examples, null, null);
        trainer.Train();
        var rows = File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal([2L, 4L], rows.Where(r => r["eval_loss"] is not null).Select(r => r["step"]!.GetValue<long>()));
        // The 30 training examples left make epochs of four steps of 8 (all 40 would make five).
        Assert.Equal(4 / 4.0, rows.Last(r => r["epoch"] is not null)["epoch"]!.GetValue<double>(), 6);
    }

    [Fact]
    public void PackedSftSeesTheSameLossAsUnpackedOnOneDocumentPerBlock()
    {
        // With packing, attention is confined to each document, so the loss of packed documents equals that of the
        // documents alone (it would not if attention leaked across the packed boundary).
        var docs = new List<Example> { new LanguageModelingExample(T("abcde")), new LanguageModelingExample(T("xyz")) };
        var packed = new SftTrainer(new SftConfig
        {
            Training = new() { OutputDir = dir, MaxSteps = 1, LearningRate = 1e-9f, PerDeviceTrainBatchSize = 1 },
            Packing = true,
            MaxLength = 16,
        }, TinyModel(), Encoder, docs, null, null);
        var packedLoss = packed.Train();
        var plain = new SftTrainer(new SftConfig
        {
            Training = new() { OutputDir = dir + "-plain", MaxSteps = 1, LearningRate = 1e-9f, PerDeviceTrainBatchSize = 2 },
        }, TinyModel(), Encoder, docs, null, null);
        var plainLoss = plain.Train();
        Directory.Delete(dir + "-plain", true);
        Assert.Equal(plainLoss.LastMetrics["loss"], packedLoss.LastMetrics["loss"], 4);
    }

    [Fact]
    public void KtoSeparatesDesirableFromUndesirable()
    {
        var rng = new Rng(2);
        var data = Enumerable.Range(0, 48).Select(i => new UnpairedPreferenceExample(T("p" + (char)('a' + rng.NextInt(26)) + ":"), T(i % 2 == 0 ? "yes" : "no"), i % 2 == 0)).ToList();
        var trainer = new KtoTrainer(new KtoConfig
        {
            Training = new() { OutputDir = dir, MaxSteps = 30, LearningRate = 3e-3f, PerDeviceTrainBatchSize = 8, LoggingSteps = 30 },
        }, TinyModel(), TinyModel(), Encoder, data, null, null);
        var result = trainer.Train();
        Assert.True(result.LastMetrics["rewards/margins"] > 0.1, $"margin {result.LastMetrics["rewards/margins"]}");
        Assert.True(result.LastMetrics["kl"] >= 0);
    }

    [Fact]
    public void ConfigResolvesDefaultsThenJsonThenFlagsAndNamesUnknownKeys()
    {
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, "dpo.json");
        File.WriteAllText(file, """{"beta": 0.3, "learning_rate": 0.001, "loss_type": "ipo"}""");
        var config = ConfigBinder.Resolve<DpoConfig>(file, new Dictionary<string, string> { ["learning_rate"] = "0.005" });
        Assert.Equal(0.3f, config.Loss.Beta);
        Assert.Equal(0.005f, config.Training.LearningRate);
        Assert.Equal(PreferenceLossType.Ipo, config.Loss.Type);
        Assert.Equal(8, config.Training.PerDeviceTrainBatchSize);

        File.WriteAllText(file, """{"learnig_rate": 0.001}""");
        var ex = Assert.Throws<InvalidDataException>(() => ConfigBinder.Resolve<DpoConfig>(file, new Dictionary<string, string>()));
        Assert.Contains("learnig_rate", ex.Message);
        Assert.Contains("learning_rate", ex.Message);
        Assert.Contains("dpo.json", ex.Message);
        var bad = Assert.Throws<ArgumentException>(() => ConfigBinder.Resolve<DpoConfig>(null, new Dictionary<string, string> { ["beta"] = "high" }));
        Assert.Contains("--beta", bad.Message);
        Assert.Equal("ipo", ConfigBinder.ToJson(config)["loss_type"]!.GetValue<string>());
    }
}
