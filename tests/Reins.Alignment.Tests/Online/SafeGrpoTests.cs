using Reins.Alignment.Grpo;
using Reins.Alignment.Online;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Tests.Online;

/// <summary>
/// Safe GRPO on a tiny task whose cost is known: the reward pays for the letters a and c alike, the cost charges for c
/// (cost = share of c − ¼, so all-a answers cost −¼ and the threshold 0 is met by answers at most a quarter c). The
/// Lagrangian run must end below the threshold where the unconstrained run ends above it, and λ must rise while the
/// constraint is violated and fall after.
/// </summary>
public class SafeGrpoTests
{
    private static float Share(ScoringRequest r, Func<char, bool> which) => r.Completion.Take(TinyTask.CompletionLength).Count(which) / (float)TinyTask.CompletionLength;

    private static IReadOnlyList<System.Text.Json.Nodes.JsonObject> Run(Scratch scratch, string name, CostConstraintSettings lagrange)
    {
        var config = new GrpoConfig
        {
            Training = new() { OutputDir = scratch.Dir(name), MaxSteps = 150, LearningRate = 3e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 16, LoggingSteps = 10 },
            Online = new() { Sampling = new() { MaxCompletionLength = TinyTask.CompletionLength } },
            Group = new() { NumGenerations = 4 },
            Cost = lagrange,
        };
        var reward = new FunctionRewardSource("ac", r => Share(r, c => c is 'a' or 'c'));
        var cost = new FunctionRewardSource("cost", r => Share(r, c => c == 'c') - 0.25f);
        new GrpoTrainer(config, TinyTask.Model(), null, TinyTask.Inputs(reward), cost: cost).Train();
        return Scratch.Metrics(config.Training.OutputDir);
    }

    [Fact]
    public void TheLagrangianKeepsTheCostUnderTheThresholdWhereRewardAloneDoesNot()
    {
        using var scratch = new Scratch();
        // λ pinned near 0 (no learning rate): the reward alone decides, with the cost still logged.
        var unconstrained = Run(scratch, "reward-only", new CostConstraintSettings { LambdaInit = 1e-6f, LambdaLr = 0, LambdaMax = 1e-6f });
        var safe = Run(scratch, "safe", new CostConstraintSettings { Threshold = 0, LambdaInit = 0.1f, LambdaLr = 0.5f, LambdaMax = 10, EpisodeCostWindowSize = 64 });
        double Final(IReadOnlyList<System.Text.Json.Nodes.JsonObject> rows, string key) => rows.TakeLast(3).Average(r => r[key]!.GetValue<double>());
        Assert.True(Final(unconstrained, "objective/cost") > 0, $"reward-only cost {Final(unconstrained, "objective/cost"):F3}");
        Assert.True(Final(safe, "objective/cost") < 0, $"safe cost {Final(safe, "objective/cost"):F3}");
        Assert.True(Final(safe, "objective/reward") > 0.5, $"safe reward {Final(safe, "objective/reward"):F3}");
        var lambdas = safe.Select(r => r["lagrange/lambda"]!.GetValue<double>()).ToArray();
        int peak = Array.IndexOf(lambdas, lambdas.Max());
        Assert.True(lambdas[peak] > 0.1 && peak < lambdas.Length - 1 && lambdas[^1] < lambdas[peak], string.Join(", ", lambdas.Select(l => l.ToString("F3"))));
    }

    [Fact]
    public void ResumingRestoresLambdaAndItsWindow()
    {
        using var scratch = new Scratch();
        GrpoTrainer Trainer() => new(new GrpoConfig
        {
            Training = new() { OutputDir = scratch.Dir("resume"), MaxSteps = 6, SaveSteps = 3, LearningRate = 3e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 16, LoggingSteps = 1 },
            Online = new() { Sampling = new() { MaxCompletionLength = TinyTask.CompletionLength } },
            Group = new() { NumGenerations = 4 },
            Cost = new() { LambdaLr = 0.5f, EpisodeCostWindowSize = 8 },
        }, TinyTask.Model(), null, TinyTask.Inputs(TinyTask.Reward()), cost: new FunctionRewardSource("cost", r => Share(r, c => c == 'c') - 0.1f));
        Trainer().Train();
        string full = File.ReadAllText(Path.Combine(scratch.Dir("resume"), "metrics.jsonl"));
        // A fresh trainer resumed from checkpoint-3 logs steps 4–6 as the uninterrupted run did, λ included.
        Trainer().Train(resume: true);
        Assert.Equal(full, File.ReadAllText(Path.Combine(scratch.Dir("resume"), "metrics.jsonl")));
        Assert.Contains("lagrange/lambda", full);
    }

    [Fact]
    public void FixedShapingTrainsOnRewardLessWeightTimesCost()
    {
        using var scratch = new Scratch();
        var reward = new FunctionRewardSource("ac", r => Share(r, c => c is 'a' or 'c'));
        var cost = new FunctionRewardSource("cost", r => Share(r, c => c == 'c') - 0.25f);
        GrpoConfig Config(string name, float? weight) => new()
        {
            Training = new() { OutputDir = scratch.Dir(name), MaxSteps = 4, LearningRate = 3e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 16, LoggingSteps = 1 },
            Online = new() { Sampling = new() { MaxCompletionLength = TinyTask.CompletionLength } },
            Group = new() { NumGenerations = 4 },
            Cost = new() { CostWeight = weight },
        };
        new GrpoTrainer(Config("shaped", 2f), TinyTask.Model(), null, TinyTask.Inputs(reward), cost: cost).Train();
        // The same run with the shaped reward computed by the reward itself: the same advantages, so the same training.
        var combined = new FunctionRewardSource("shaped", r => reward.Score([r])[0] - 2 * cost.Score([r])[0]);
        new GrpoTrainer(Config("combined", null), TinyTask.Model(), null, TinyTask.Inputs(combined)).Train();
        var shaped = Scratch.Metrics(scratch.Dir("shaped"));
        Assert.Equal(Scratch.Metrics(scratch.Dir("combined")).Select(r => r["loss/policy_avg"]!.GetValue<double>()), shaped.Select(r => r["loss/policy_avg"]!.GetValue<double>()));
        Assert.All(shaped, r => Assert.Null(r["lagrange/lambda"]));
        Assert.All(shaped, r => Assert.NotNull(r["objective/cost"]));
    }
}
