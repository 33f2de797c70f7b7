using System.Diagnostics;
using Reins.Alignment.IterativeDpo;
using Reins.Alignment.Online;
using Reins.Rewards.Sources;
using Xunit.Abstractions;

namespace Reins.Alignment.Tests.Online;

/// <summary>Iterative DPO on the tiny copy task, and the pairs it (and online DPO) build from judged samples.</summary>
public class IterativeDpoTests(ITestOutputHelper output)
{
    private static IterativeDpoConfig Config(string dir, int iterations) => new()
    {
        Training = new() { OutputDir = dir, LearningRate = 3e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 8, NumTrainEpochs = 4, LoggingSteps = 5 },
        Loss = new() { Beta = 0.25f },
        Iteration = new()
        {
            Sampling = new() { MaxPromptLength = 8, MaxCompletionLength = TinyTask.CompletionLength }, Iterations = iterations, NumGenerations = 8, GenerationBatchSize = 12,
        },
    };

    private static IterativeDpoTrainer Trainer(IterativeDpoConfig config, IRewardSource reward) =>
        new(config, TinyTask.Model(), null, TinyTask.Inputs(reward, TinyTask.Prompts(string.Concat(Enumerable.Repeat("abcdef", 8)))));

    [Fact]
    public void RaisesTheBestOfSampleRewardAcrossIterations()
    {
        using var scratch = new Scratch();
        var sw = Stopwatch.StartNew();
        var result = Trainer(Config(scratch.Dir("run"), 5), TinyTask.Reward()).Train();
        var rows = Scratch.Metrics(scratch.Dir("run"));
        output.WriteLine($"iterative dpo: {result.Steps} iterations in {sw.Elapsed.TotalSeconds:F1} s");
        foreach (var r in rows) output.WriteLine(r.ToJsonString());
        double Best(int i) => rows[i]["reward_best"]!.GetValue<double>();
        double Mean(int i) => rows[i]["reward"]!.GetValue<double>();
        Assert.Equal(5, rows.Count);
        Assert.True(Best(4) > Best(0) + 0.2, $"reward_best {Best(0):F3} → {Best(4):F3}");
        Assert.True(Mean(4) > Mean(0) + 0.2, $"reward {Mean(0):F3} → {Mean(4):F3}");
    }

    [Fact]
    public void WithLoraEachIterationSavesAnAdapterAndTheBaseStaysFrozen()
    {
        using var scratch = new Scratch();
        var config = Config(scratch.Dir("run"), 2);
        config = config with { Training = config.Training with { Peft = new() { UsePeft = true, LoraR = 4, LoraAlpha = 8, LoraDropout = 0, LoraModulesToSave = ["wte"] } } };
        var trainer = Trainer(config, TinyTask.Reward());
        var frozen = trainer.Model.Parameters.Where(p => !p.RequiresGrad).ToDictionary(p => p.Name!, p => p.ToArray());
        Assert.NotEmpty(frozen);
        trainer.Train();
        foreach (var (name, values) in frozen) Assert.Equal(values, trainer.Model[name].ToArray());
        foreach (var dir in new[] { trainer.IterationPath(1), trainer.IterationPath(2), scratch.Dir("run") })
            Assert.True(File.Exists(Path.Combine(dir, Models.Peft.PeftCheckpoint.WeightsFile)), dir);
        Assert.Contains(trainer.Model.Lora!.Layers, l => l.Adapter.B.ToArray().Any(v => v != 0));
    }

    [Fact]
    public void BestVersusWorstSkipsAndCountsTies()
    {
        Assert.Equal([new PreferencePair(1, 0), null], PreferencePairs.BestVersusWorst([0.1f, 0.5f, 0.5f, 0.2f, 1, 1, 1, 1], 4));
        // Among equal scores the earlier sample is taken, for the best and for the worst.
        Assert.Equal([new PreferencePair(3, 1)], PreferencePairs.BestVersusWorst([0.3f, 0.1f, 0.1f, 0.9f], 4));
        Assert.Equal([new PreferencePair(0, 1), new PreferencePair(3, 2), null, new PreferencePair(6, 7)], PreferencePairs.FromJudgements([1f, 0f, 0.5f, 0.7f]));
        Assert.Throws<InvalidDataException>(() => PreferencePairs.FromJudgements([float.NaN]));
        Assert.Throws<ArgumentException>(() => PreferencePairs.BestVersusWorst([1f, 2f, 3f], 2));
    }

    [Fact]
    public void AnIterationOfTiesLeavesThePolicyAsItWas()
    {
        using var scratch = new Scratch();
        var trainer = Trainer(Config(scratch.Dir("run"), 1), new FunctionRewardSource("flat", _ => 1));
        var before = trainer.Model.Parameters.Select(p => p.ToArray()).ToArray();
        trainer.Train();
        var row = Assert.Single(Scratch.Metrics(scratch.Dir("run")));
        Assert.Equal(0, row["pairs/kept"]!.GetValue<double>());
        Assert.Equal(48, row["pairs/ties"]!.GetValue<double>());
        Assert.All(trainer.Model.Parameters.Select((p, i) => p.ToArray().SequenceEqual(before[i])), Assert.True);
        Assert.True(File.Exists(Path.Combine(scratch.Dir("run"), "model.safetensors")));
    }

    [Fact]
    public void ResumeContinuesAfterTheLastFinishedIteration()
    {
        using var scratch = new Scratch();
        Trainer(Config(scratch.Dir("straight"), 3), TinyTask.Reward()).Train();
        // Two iterations, then the same run asked for three: the third starts from iteration-2's model.
        Trainer(Config(scratch.Dir("resumed"), 2), TinyTask.Reward()).Train();
        Assert.Equal(3, Trainer(Config(scratch.Dir("resumed"), 3), TinyTask.Reward()).Train(resume: true).Steps);
        Assert.Equal(File.ReadAllText(Path.Combine(scratch.Dir("straight"), "metrics.jsonl")), File.ReadAllText(Path.Combine(scratch.Dir("resumed"), "metrics.jsonl")));
        Assert.True(File.Exists(Path.Combine(scratch.Dir("resumed"), "iteration-3", IterationState.FileName)));
    }

    [Fact]
    public void UpdatingTheReferenceChangesTheLaterPasses()
    {
        using var scratch = new Scratch();
        Trainer(Config(scratch.Dir("initial"), 2), TinyTask.Reward()).Train();
        var config = Config(scratch.Dir("updated"), 2);
        Trainer(config with { Iteration = config.Iteration with { UpdateReference = true } }, TinyTask.Reward()).Train();
        var initial = Scratch.Metrics(scratch.Dir("initial"));
        var updated = Scratch.Metrics(scratch.Dir("updated"));
        // Iteration 1's reference is the initial model either way; iteration 2's differs.
        Assert.Equal(initial[0]["dpo/loss"]!.GetValue<double>(), updated[0]["dpo/loss"]!.GetValue<double>());
        Assert.NotEqual(initial[1]["dpo/loss"]!.GetValue<double>(), updated[1]["dpo/loss"]!.GetValue<double>());
    }
}
