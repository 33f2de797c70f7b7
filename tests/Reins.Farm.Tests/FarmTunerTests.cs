using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Reins.Farm.Tuning;

namespace Reins.Farm.Tests;

/// <summary>
/// `reins farm tune`: successive halving's promotions, the grids, the split it may read, and a small tuning run that is
/// stopped (Ctrl-C in a trial, and a line cut off mid-write) and resumed to the same trials as an uninterrupted one.
/// </summary>
public sealed class FarmTunerTests
{
    [Fact]
    public void SuccessiveHalvingKeepsTheBestThirdAndBreaksTiesByOrder()
    {
        var scores = new[] { 0.4, 0.7, 0.5, 0.7, 0.1, 0.6, 0.2, 0.3, 0.65 }.Select((s, i) => (Candidate: 10 + i, Score: s)).ToArray();
        Assert.Equal([11, 13, 18], SuccessiveHalving.Promote(scores));
        // ⌈2/3⌉ = 1, and of two equal scores the first listed.
        Assert.Equal([5], SuccessiveHalving.Promote([(5, 0.5), (6, 0.5)]));
        Assert.Equal(6, SuccessiveHalving.Best([(5, 0.5), (6, 0.6), (7, 0.6)]));
    }

    [Fact]
    public void EveryGridIsTheProductOfItsDimensionsAndLandsInTheConfig()
    {
        var grpo = SearchSpace.Of(MethodNames.Grpo);
        var candidates = grpo.Candidates();
        Assert.Equal(grpo.Dimensions.Aggregate(1, (n, d) => n * d.Values.Count), candidates.Count);
        Assert.Equal(candidates.Count, candidates.Select(MethodSearch.Describe).Distinct().Count());
        var last = grpo.Apply(FarmConfig.Default, candidates[^1]);
        Assert.Equal(((float)candidates[^1]["learning_rate"], (int)candidates[^1]["num_generations"], (float)candidates[^1]["beta"]),
            (last.Grpo.LearningRate, last.Grpo.NumGenerations, last.Grpo.Beta));
        Assert.Equal(FarmConfig.Default.Rloo, last.Rloo);
        // Every candidate of every grid writes its learning rate into its own method's settings.
        var d = FarmConfig.Default;
        var unset = d with
        {
            ExpertIteration = d.ExpertIteration with { LearningRate = 7 }, Dpo = d.Dpo with { LearningRate = 7 }, OnlineDpo = d.OnlineDpo with { LearningRate = 7 },
            Ppo = d.Ppo with { LearningRate = 7 }, Grpo = d.Grpo with { LearningRate = 7 }, Rloo = d.Rloo with { LearningRate = 7 },
        };
        foreach (var search in SearchSpace.All)
            Assert.All(search.Candidates(), c => Assert.Equal(1, CountDifferences(unset.ToJson(), search.Apply(unset, c).ToJson(), "\"learning_rate\": 7")));
        Assert.Contains("the tunable methods are", Assert.Throws<ArgumentException>(() => SearchSpace.Of("best_of_4")).Message);
    }

    private static int CountDifferences(string before, string after, string marker) =>
        before.Split(marker).Length - after.Split(marker).Length;

    [Fact]
    public void TuningRefusesTestSeedsAndConfigsWithoutDevelopmentPrompts()
    {
        var dir = Directory.CreateTempSubdirectory("reins-tune-refused-").FullName;
        try
        {
            var onTest = new FarmTuner(FarmTasks.Get("reviews"), TinyConfig, [101, 7], [SearchSpace.Of(MethodNames.Dpo)], dir, _ => { });
            Assert.Contains("seed 7 is a test seed", Assert.Throws<ArgumentException>(onTest.Run).Message);
            var noPrompts = new FarmTuner(FarmTasks.Get("reviews"), TinyConfig with { ReserveDevelopmentPrompts = false }, [101], [SearchSpace.Of(MethodNames.Dpo)], dir, _ => { });
            Assert.Contains("reserves no development prompts", Assert.Throws<ArgumentException>(noPrompts.Run).Message);
            // Refused before anything ran.
            Assert.Empty(Directory.GetFileSystemEntries(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // Every stage as small as still trains, so the test runs in seconds.
    private static readonly FarmConfig TinyConfig = FarmConfig.Quick with
    {
        CorpusDocuments = 400, Demonstrations = 200, PreferencePrompts = 80, EvalPrompts = 32,
        Pretrain = FarmConfig.Quick.Pretrain with { Steps = 20, RewardBaseSteps = 10 },
        Sft = FarmConfig.Quick.Sft with { Steps = 20 },
        RewardModels = FarmConfig.Quick.RewardModels with { Steps = 10, EnsembleMembers = 1 },
        Online = FarmConfig.Quick.Online with { Steps = 4 },
    };

    // Three learning rates: one promoted from the first seed to the second.
    private static readonly MethodSearch SmallGrid = SearchSpace.Of(MethodNames.OnlineDpo) with
    {
        Dimensions = [new("learning_rate", [1e-4, 1e-3, 1e-2]), new("beta", [0.1])],
    };

    private static TuningOutcome Tune(string dir, List<string>? log = null, IProgress<FarmProgress>? progress = null, CancellationToken cancellation = default) =>
        new FarmTuner(FarmTasks.Get("reviews"), TinyConfig, [101, 102], [SmallGrid], dir, line => log?.Add(line), progress) { Cancellation = cancellation }.Run();

    private static string[] WithoutTimes(IEnumerable<TuningTrial> trials) => [.. trials.Select(t => (t with { Seconds = 0 }).ToJsonLine())];

    [Fact]
    public void AnInterruptedTuningResumesToTheSameTrialsAndChoosesOnWinRate()
    {
        var root = Directory.CreateTempSubdirectory("reins-tune-").FullName;
        try
        {
            string whole = Path.Combine(root, "whole"), resumed = Path.Combine(root, "resumed");
            var outcome = Tune(whole);
            // Rung 0: all three on seed 101; rung 1: the best on 102.
            Assert.Equal([101UL, 101, 101, 102], outcome.Trials.Select(t => t.Seed));
            Assert.All(outcome.Trials, t => Assert.Equal("dev", t.Split));
            Assert.All(outcome.Trials, t => Assert.Equal(TinyConfig.Online.Steps * TinyConfig.Online.BatchSize, t.Samples));
            var promoted = outcome.Trials.Take(3).MaxBy(t => t.WinRateVsSft)!;
            Assert.Equal(MethodSearch.Describe(promoted.Settings), MethodSearch.Describe(outcome.Trials[3].Settings));
            var chosen = Assert.Single(outcome.Methods);
            Assert.Equal(MethodSearch.Describe(promoted.Settings), MethodSearch.Describe(chosen.Settings));
            Assert.Equal((promoted.WinRateVsSft + outcome.Trials[3].WinRateVsSft) / 2, chosen.WinRateVsSft, 12);
            // β had one value; a learning rate of 1e-4 or 1e-2 is the grid's edge, 1e-3 its middle.
            Assert.Equal(promoted.Settings["learning_rate"] == 1e-3 ? [] : ["learning_rate"], chosen.AtGridEdge);
            Assert.Equal((float)promoted.Settings["learning_rate"], outcome.Config.OnlineDpo.LearningRate);
            Assert.Equal(outcome.Config.ToJson(), FarmConfig.Load(Path.Combine(whole, FarmTuner.TuneDirectory, "config.json")).ToJson());
            var lines = File.ReadAllLines(Path.Combine(whole, FarmTuner.TuneDirectory, "trials.jsonl"));
            Assert.Equal(4, lines.Length);
            using (var line = System.Text.Json.JsonDocument.Parse(lines[0]))
                Assert.Equal(["method", "settings", "seed", "rung", "split", "win_rate_vs_sft", "win_rate_vs_sft_ci", "gold_reward", "proxy_reward", "kl_to_sft", "samples", "seconds"],
                    line.RootElement.EnumerateObject().Select(p => p.Name));

            // Ctrl-C during the third trial: it stops at its next step, unrecorded. A third line cut off mid-write is added
            // as a kill during the append would leave it.
            using var stop = new CancellationTokenSource();
            var ctrlC = new Reins.Alignment.Training.SynchronousProgress<FarmProgress>(p => { if (p.Stage.StartsWith("online_dpo learning_rate=0.01 ") && p.Step >= 2) stop.Cancel(); });
            Assert.ThrowsAny<OperationCanceledException>(() => Tune(resumed, progress: ctrlC, cancellation: stop.Token));
            string trials = Path.Combine(resumed, FarmTuner.TuneDirectory, "trials.jsonl");
            Assert.Equal(2, File.ReadAllLines(trials).Length);
            File.AppendAllText(trials, "{\"method\": \"online_dp");
            var log = new List<string>();
            var again = Tune(resumed, log: log);
            Assert.Contains(log, l => l.Contains("line 3 was cut off"));
            Assert.Contains(log, l => l.Contains("resuming: 2 trials"));
            Assert.Equal(WithoutTimes(outcome.Trials), WithoutTimes(again.Trials));
            Assert.Equal(WithoutTimes(outcome.Trials), WithoutTimes(File.ReadAllLines(trials).Select(TuningTrial.FromJsonLine)));
            Assert.Equal(outcome.Config.ToJson(), again.Config.ToJson());

            // A finished tuning rerun trains nothing.
            var third = new List<string>();
            Tune(resumed, log: third);
            Assert.DoesNotContain(third, l => l.Contains("shared stages"));
            // A trial recorded twice (a file pieced together by hand) is an error naming both lines, not a silent pick.
            File.AppendAllText(trials, File.ReadAllLines(trials)[0] + "\n");
            Assert.Contains("trials.jsonl: line 5: the same trial (online_dpo learning_rate=0.0001 beta=0.1, seed 101) as line 1",
                Assert.Throws<InvalidDataException>(() => Tune(resumed)).Message);
            // Another search in the same directory is refused rather than mixed in.
            var other = new FarmTuner(FarmTasks.Get("reviews"), TinyConfig, [101], [SmallGrid], resumed, _ => { });
            Assert.Contains("another task, config, seeds or methods", Assert.Throws<InvalidOperationException>(other.Run).Message);
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
