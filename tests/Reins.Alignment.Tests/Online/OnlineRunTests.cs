using Reins.Alignment.Grpo;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Ppo;
using Reins.Alignment.Training;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors;
using Xunit.Abstractions;

namespace Reins.Alignment.Tests.Online;

/// <summary>Whole online runs: PPO's KL control and critic warm-up, the EOS penalty, exact resume, reproducibility, refused settings.</summary>
public class OnlineRunTests(ITestOutputHelper output)
{
    private static readonly FunctionRewardSource Zero = new("zero", _ => 0);

    private static PpoConfig Config(string dir, int steps) => new()
    {
        Training = new() { OutputDir = dir, MaxSteps = steps, LearningRate = 1e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 6, LoggingSteps = 1 },
        Online = new() { Sampling = new() { MaxCompletionLength = 4 }, NumMiniBatches = 2 },
        NumPpoEpochs = 2,
    };

    private static PpoTrainer Ppo(PpoConfig config, CausalLanguageModel policy, CausalLanguageModel reference, IRewardSource reward) =>
        new(config, policy, reference, PpoTrainer.CriticFromPolicy(reference, seed: 3), TinyTask.Inputs(reward, TinyTask.Prompts("abcdefabcdef")));

    // KL(π‖π_ref) of the next-token distributions, exactly (over the vocabulary), averaged over every position of fixed sequences.
    private static double ExactKl(CausalLanguageModel policy, CausalLanguageModel reference)
    {
        int[] ids = [TinyTask.Bos, 0, 3, 3, 7, TinyTask.Bos, 4, 1, 9, 9];
        using var tape = new Tape(recordGradients: false);
        var p = Ops.LogSoftmax(policy.Logits(new ModelInput(ids, 2, 5))).ToArray();
        var q = Ops.LogSoftmax(reference.Logits(new ModelInput(ids, 2, 5))).ToArray();
        double kl = 0;
        for (int i = 0; i < p.Length; i++) kl += Math.Exp(p[i]) * (p[i] - q[i]);
        return kl / 10;
    }

    [Fact]
    public void WithZeroRewardTheKlPenaltyPullsThePolicyBackToTheReference()
    {
        using var scratch = new Scratch();
        var reference = TinyTask.Model();
        var policy = reference.Clone();
        var rng = new Rng(9);
        foreach (var w in policy.Parameters.Where(w => w.Rank == 2))
            foreach (ref float x in w.Span) x += 0.15f * rng.NextNormal();
        double before = ExactKl(policy, reference);
        Ppo(Config(scratch.Dir("run"), 40) with { KlCoef = 0.5f }, policy, reference, Zero).Train();
        double after = ExactKl(policy, reference);
        var rows = Scratch.Metrics(scratch.Dir("run"));
        double loggedFirst = rows[..5].Average(r => r["objective/kl"]!.GetValue<double>()), loggedLast = rows[^5..].Average(r => r["objective/kl"]!.GetValue<double>());
        output.WriteLine($"exact KL {before:F4} → {after:F4}; objective/kl {loggedFirst:F4} → {loggedLast:F4}");
        Assert.True(after < 0.5 * before, $"exact KL {before:F4} → {after:F4}");
        Assert.True(loggedLast < 0.5 * loggedFirst, $"objective/kl {loggedFirst:F4} → {loggedLast:F4}");
        Assert.All(rows, r => Assert.Equal(0, r["objective/scores"]!.GetValue<double>()));
    }

    [Fact]
    public void ValueWarmupTrainsOnlyTheCritic()
    {
        using var scratch = new Scratch();
        var reference = TinyTask.Model();
        var policy = reference.Clone();
        var trainer = Ppo(Config(scratch.Dir("run"), 2) with { ValueWarmupSteps = 2 }, policy, reference, TinyTask.Reward());
        var criticBefore = trainer.Critic.Parameters.Select(p => p.ToArray()).ToArray();
        trainer.Train();
        Assert.All(policy.Parameters, p => Assert.Equal(reference[p.Name!].ToArray(), p.ToArray()));
        Assert.Contains(trainer.Critic.Parameters.Select((p, i) => !p.ToArray().SequenceEqual(criticBefore[i])), changed => changed);
        Assert.All(Scratch.Metrics(scratch.Dir("run")), r => Assert.False(r.ContainsKey("loss/policy_avg")));
    }

    [Fact]
    public void MissingEosPenaltyLowersTheScoreOfTruncatedCompletions()
    {
        using var scratch = new Scratch();
        var policy = TinyTask.Model();
        var config = new GrpoConfig
        {
            Training = new() { OutputDir = scratch.Dir("run"), MaxSteps = 3, PerDeviceTrainBatchSize = 16, LoggingSteps = 1 },
            Online = new() { Sampling = new() { MaxCompletionLength = 6, MissingEosPenalty = 0.5f } },
            Group = new() { NumGenerations = 4 },
        };
        new GrpoTrainer(config, policy, null, TinyTask.Inputs(new FunctionRewardSource("one", _ => 1))).Train();
        foreach (var row in Scratch.Metrics(scratch.Dir("run")))
        {
            double truncated = row["completions/clipped_ratio"]!.GetValue<double>();
            Assert.InRange(truncated, 0.01, 0.99);
            Assert.Equal(1 - 0.5 * truncated, row["reward"]!.GetValue<double>(), 6);
            Assert.Equal(1, row["rewards/one/mean"]!.GetValue<double>());
        }
    }

    [Fact]
    public void ResumeRestoresWeightsCriticKlControllerRngAndPromptPosition()
    {
        using var scratch = new Scratch();
        string dir = scratch.Dir("run");
        var six = Config(dir, 6);
        var config = six with
        {
            Training = six.Training with { SaveSteps = 3 }, KlCoef = 0.2f,
            PolicyGradient = new() { AdapKlCtrl = true, Target = 0.5f, Horizon = 100 },
        };
        var reference = TinyTask.Model();
        Ppo(config, reference.Clone(), reference, TinyTask.Reward()).Train();
        string full = File.ReadAllText(Path.Combine(dir, "metrics.jsonl"));
        var rows = Scratch.Metrics(dir);
        Assert.NotEqual(rows[0]["objective/kl_coef"]!.GetValue<double>(), rows[^1]["objective/kl_coef"]!.GetValue<double>());

        // checkpoint-3 holds what a resume needs; the final critic is a …ForSequenceClassification checkpoint.
        string checkpoint = Path.Combine(dir, "checkpoint-3");
        Assert.True(File.Exists(Path.Combine(checkpoint, OnlineState.FileName)));
        Assert.Equal("GPT2ForSequenceClassification", HfCheckpoint.LoadConfig(Path.Combine(checkpoint, PpoTrainer.CriticDirectory)).Architecture);
        var critic = HfCheckpoint.Load(Path.Combine(dir, PpoTrainer.CriticDirectory));
        Assert.Equal(1, critic.Config.NumLabels);

        // A fresh trainer (weights as at the start) resumed from checkpoint-3 re-logs steps 4–6 identically.
        var resumed = Ppo(config, reference.Clone(), reference, TinyTask.Reward());
        Assert.Equal(6, resumed.Train(resume: true).Steps);
        Assert.Equal(full, File.ReadAllText(Path.Combine(dir, "metrics.jsonl")));
    }

    [Fact]
    public void SameSeedGivesTheSameMetrics()
    {
        using var scratch = new Scratch();
        string Run(string name)
        {
            var policy = TinyTask.Model();
            var config = new GrpoConfig
            {
                Training = new() { OutputDir = scratch.Dir(name), MaxSteps = 8, LearningRate = 3e-3f, PerDeviceTrainBatchSize = 8, LoggingSteps = 2 },
                Online = new() { Sampling = new() { MaxCompletionLength = 4 }, NumMiniBatches = 2 },
                Group = new() { NumGenerations = 4, NumIterations = 2 },
                Beta = 0.05f,
            };
            new GrpoTrainer(config, policy, policy.Clone(), TinyTask.Inputs(TinyTask.Reward())).Train();
            return File.ReadAllText(Path.Combine(scratch.Dir(name), "metrics.jsonl"));
        }
        Assert.Equal(Run("a"), Run("b"));
        // The run's config.json holds every resolved setting, as an offline run's does (the trainer holds its config
        // as IOnlineConfig; the settings are those of the GrpoConfig record).
        var written = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(scratch.Dir("a"), "config.json")))![RunDirectory.SettingsKey]!.AsObject();
        Assert.Equal(ConfigBinder.Fields<GrpoConfig>().Select(f => f.Key), written.Select(kv => kv.Key));
        Assert.Equal(4, written["num_generations"]!.GetValue<int>());
    }

    [Fact]
    public void EvaluationPromptsAreScoredEveryEvalStepsWithoutChangingTraining()
    {
        using var scratch = new Scratch();
        List<System.Text.Json.Nodes.JsonObject> Run(string name, int evalSteps, IReadOnlyList<Reins.Feedback.Datasets.PromptOnlyExample>? eval)
        {
            var policy = TinyTask.Model();
            var config = new GrpoConfig
            {
                Training = new() { OutputDir = scratch.Dir(name), MaxSteps = 4, LearningRate = 3e-3f, PerDeviceTrainBatchSize = 8, LoggingSteps = 1, EvalSteps = evalSteps, PerDeviceEvalBatchSize = 2 },
                Online = new() { Sampling = new() { MaxCompletionLength = 4 } },
            };
            new GrpoTrainer(config, policy, null, TinyTask.Inputs(TinyTask.Reward()) with { EvalPrompts = eval }).Train();
            return Scratch.Metrics(scratch.Dir(name));
        }
        var plain = Run("plain", 0, null);
        var evaluated = Run("evaluated", 2, TinyTask.Prompts("abc"));
        var evalRows = evaluated.Where(r => r.ContainsKey("eval_reward")).ToList();
        Assert.Equal([2L, 4L], evalRows.Select(r => r["step"]!.GetValue<long>()));
        Assert.All(evalRows, r => Assert.InRange(r["eval_reward"]!.GetValue<double>(), 0, 1));
        Assert.All(evalRows, r => Assert.Equal(r["eval_reward"]!.GetValue<double>(), r["eval_rewards/copy/mean"]!.GetValue<double>(), 6));
        // The evaluation draws from seeds of its own: the training rows are those of the run without it.
        Assert.Equal(plain.Select(r => r.ToJsonString()), evaluated.Where(r => !r.ContainsKey("eval_reward")).Select(r => r.ToJsonString()));
        // Evaluated twice at the same weights (a fresh trainer per run), the same prompts give the same numbers.
        Assert.Equal(evalRows[0].ToJsonString(), Run("again", 2, TinyTask.Prompts("abc")).First(r => r.ContainsKey("eval_reward")).ToJsonString());
    }

    // Scores like TinyTask.Reward, except that its call number blockAt waits until the run is stopped.
    private sealed class StallingReward(int blockAt) : IRewardSource
    {
        private readonly IRewardSource inner = TinyTask.Reward();
        private int calls;
        public string Name => "copy";
        public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
        {
            if (++calls == blockAt) Task.Delay(Timeout.Infinite, cancellation).GetAwaiter().GetResult();
            return inner.Score(requests, cancellation);
        }
    }

    [Fact]
    public async Task AStopWhileTheRewardScoresSavesTheStepsStartAndResumesExactly()
    {
        using var scratch = new Scratch();
        GrpoConfig Config(string name) => new()
        {
            Training = new() { OutputDir = scratch.Dir(name), MaxSteps = 6, LearningRate = 3e-3f, PerDeviceTrainBatchSize = 8, LoggingSteps = 1 },
            Online = new() { Sampling = new() { MaxCompletionLength = 4 } },
            Beta = 0.05f,
        };
        var reference = TinyTask.Model();
        new GrpoTrainer(Config("straight"), reference.Clone(), reference, TinyTask.Inputs(TinyTask.Reward())).Train();

        // The fourth reward call blocks; the stop comes while it waits.
        using var stop = new CancellationTokenSource();
        var stalled = new GrpoTrainer(Config("stopped"), reference.Clone(), reference, TinyTask.Inputs(new StallingReward(blockAt: 4)));
        var running = Task.Run(() => stalled.Train(cancellation: stop.Token));
        await Task.Delay(2000);
        stop.Cancel();
        Assert.True(await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(60))) == running, "the stop did not end the pending reward call");
        var interrupted = await running;
        Assert.True(interrupted.Interrupted);
        Assert.Equal(3, interrupted.Steps);
        Assert.True(Directory.Exists(Path.Combine(scratch.Dir("stopped"), "checkpoint-3")));

        var resumed = new GrpoTrainer(Config("stopped"), reference.Clone(), reference, TinyTask.Inputs(TinyTask.Reward())).Train(resume: true);
        Assert.Equal(6, resumed.Steps);
        Assert.Equal(File.ReadAllText(Path.Combine(scratch.Dir("straight"), "metrics.jsonl")), File.ReadAllText(Path.Combine(scratch.Dir("stopped"), "metrics.jsonl")));
    }

    [Fact]
    public void SettingsThatCannotWorkAreRefused()
    {
        Assert.Contains("zero", Assert.Throws<ArgumentException>(() => new PpoConfig { UseKlLoss = true, KlEstimator = KlEstimator.K1 }.Validate()).Message);
        new PpoConfig { UseKlLoss = true, KlEstimator = KlEstimator.K3 }.Validate();
        Assert.Contains("num_generations", Assert.Throws<ArgumentException>(() => new GrpoConfig { Group = new() { NumGenerations = 1 } }.Validate()).Message);
        Assert.Contains("must divide", Assert.Throws<ArgumentException>(() =>
            new GrpoConfig { Group = new() { NumGenerations = 3 }, Training = new() { PerDeviceTrainBatchSize = 8 } }.Validate()).Message);
        var policy = TinyTask.Model();
        Assert.Contains("reference", Assert.Throws<ArgumentException>(() =>
            new GrpoTrainer(new GrpoConfig { Beta = 0.1f }, policy, null, TinyTask.Inputs(Zero))).Message);
        Assert.Contains("positions", Assert.Throws<ArgumentException>(() =>
            new GrpoTrainer(new GrpoConfig
            {
                Online = new() { Sampling = new() { MaxCompletionLength = 40 } },
            }, policy, null, TinyTask.Inputs(Zero))).Message);
    }
}
