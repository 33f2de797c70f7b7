using System.Diagnostics;
using Reins.Alignment.OnlineDpo;
using Reins.Rewards.Judges;
using Reins.Rewards.Sources;
using Xunit.Abstractions;

namespace Reins.Alignment.Tests.Online;

/// <summary>Online DPO on the tiny copy task: it learns, logs TRL's metrics, skips ties, takes a judge, and resumes exactly.</summary>
public class OnlineDpoTests(ITestOutputHelper output)
{
    // 24 prompts (each letter four times), two samples each: 48 rows a step.
    private static readonly string Letters = string.Concat(Enumerable.Repeat("abcdef", 4));

    private static OnlineDpoConfig Config(string dir, int steps) => new()
    {
        Training = new() { OutputDir = dir, MaxSteps = steps, LearningRate = 3e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 48, LoggingSteps = 1 },
        Online = new() { Sampling = new() { MaxCompletionLength = TinyTask.CompletionLength } },
        Loss = new() { Beta = 0.25f },
    };

    private static OnlineDpoTrainer Trainer(OnlineDpoConfig config, IRewardSource reward, IPairwiseJudge? judge = null)
    {
        var policy = TinyTask.Model();
        return new OnlineDpoTrainer(config, policy, policy.Clone(), TinyTask.Inputs(reward, TinyTask.Prompts(Letters)), judge);
    }

    [Fact]
    public void RaisesTheJudgesScoreWithinAHundredSteps()
    {
        using var scratch = new Scratch();
        var sw = Stopwatch.StartNew();
        Trainer(Config(scratch.Dir("run"), 100), TinyTask.Reward()).Train();
        var rows = Scratch.Metrics(scratch.Dir("run"));
        double Scores(IEnumerable<System.Text.Json.Nodes.JsonObject> r) => r.Average(x => x["objective/scores"]!.GetValue<double>());
        double first = Scores(rows[..10]), last = Scores(rows[^10..]);
        output.WriteLine($"online dpo: 100 steps in {sw.Elapsed.TotalSeconds:F1} s; objective/scores {first:F3} (steps 1–10) → {Scores(rows[40..50]):F3} (41–50) → {last:F3} (91–100); " +
            $"objective/kl {rows[^1]["objective/kl"]}, rewards/accuracies {rows[^1]["rewards/accuracies"]}, ties {rows[^1]["pairs/tie_fraction"]}");
        Assert.True(first <= 0.2, $"starts at {first}");
        Assert.True(last >= 0.6, $"ends at {last}");
    }

    [Fact]
    public void LogsTrlsOnlineDpoMetrics()
    {
        using var scratch = new Scratch();
        var config = Config(scratch.Dir("run"), 2);
        Trainer(config with { Online = config.Online with { Sampling = config.Online.Sampling with { MissingEosPenalty = 1f } } }, TinyTask.Reward()).Train();
        string[] names =
        [
            "objective/kl", "objective/entropy", "objective/scores", "objective/scores_margin", "objective/non_score_reward", "objective/rlhf_reward",
            "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected",
            "val/contain_eos_token", "beta", "pairs/tie_fraction", "loss", "grad_norm", "lr",
        ];
        foreach (var row in Scratch.Metrics(scratch.Dir("run")))
        {
            foreach (var name in names) Assert.True(row.ContainsKey(name), $"metrics.jsonl lacks {name}: {row.ToJsonString()}");
            Assert.Equal(0.25, row["beta"]!.GetValue<double>(), 6);
            // missing_eos_penalty: completions cut at the cap lose 1, so the score is the copy reward less the clipped share.
            double clipped = 1 - row["val/contain_eos_token"]!.GetValue<double>();
            Assert.Equal(row["rewards/copy/mean"]!.GetValue<double>() - clipped, row["objective/scores"]!.GetValue<double>(), 5);
        }
    }

    [Fact]
    public void TiedPairsAreSkipped()
    {
        using var scratch = new Scratch();
        var trainer = Trainer(Config(scratch.Dir("run"), 3), new FunctionRewardSource("flat", _ => 0.5f));
        var before = trainer.Model.Parameters.Select(p => p.ToArray()).ToArray();
        trainer.Train();
        Assert.All(trainer.Model.Parameters.Select((p, i) => p.ToArray().SequenceEqual(before[i])), Assert.True);
        Assert.All(Scratch.Metrics(scratch.Dir("run")), row =>
        {
            Assert.Equal(1, row["pairs/tie_fraction"]!.GetValue<double>());
            Assert.Equal(0, row["objective/scores_margin"]!.GetValue<double>());
            Assert.False(row.ContainsKey("rewards/accuracies"));
        });
    }

    // Prefers whichever completion the copy reward scores lower.
    private sealed class ContrarianJudge : IPairwiseJudge
    {
        private readonly RewardSourceJudge inner = new(TinyTask.Reward());
        public string Name => "contrarian";
        public float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default) => [.. inner.Judge(pairs, cancellation).Select(p => 1 - p)];
    }

    [Fact]
    public void AJudgeDecidesThePairs()
    {
        using var scratch = new Scratch();
        string Run(string name, IPairwiseJudge? judge)
        {
            Trainer(Config(scratch.Dir(name), 3), TinyTask.Reward(), judge).Train();
            return File.ReadAllText(Path.Combine(scratch.Dir(name), "metrics.jsonl"));
        }
        // A reward-source judge over the run's own reward labels exactly as the scores do.
        Assert.Equal(Run("scores", null), Run("judge", new RewardSourceJudge(TinyTask.Reward())));
        Run("contrarian", new ContrarianJudge());
        Assert.All(Scratch.Metrics(scratch.Dir("contrarian")), row => Assert.True(row["objective/scores_margin"]!.GetValue<double>() < 0));
    }

    [Fact]
    public void ResumeGivesIdenticalMetrics()
    {
        using var scratch = new Scratch();
        string dir = scratch.Dir("run");
        var six = Config(dir, 6);
        var config = six with
        {
            Training = six.Training with { SaveSteps = 3, PerDeviceTrainBatchSize = 8, GradientAccumulationSteps = 2 },
            Online = six.Online with { NumMiniBatches = 2, Sampling = six.Online.Sampling with { Temperature = 0.8f } },
        };
        var reference = TinyTask.Model();
        OnlineDpoTrainer Fresh() => new(config, reference.Clone(), reference, TinyTask.Inputs(TinyTask.Reward(), TinyTask.Prompts(Letters)));
        Fresh().Train();
        string full = File.ReadAllText(Path.Combine(dir, "metrics.jsonl"));
        Assert.Equal(6, Fresh().Train(resume: true).Steps);
        Assert.Equal(full, File.ReadAllText(Path.Combine(dir, "metrics.jsonl")));
    }
}
