using System.Text.Json;
using Reins.Alignment.Dno;
using Reins.Alignment.IterativeDpo;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Sppo;
using Reins.Rewards.Judges;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Tests.Online;

/// <summary>SPPO and DNO: win-rates from a judge of the policy's own samples, and both methods learning the tiny copy task.</summary>
public class SelfPlayTests
{
    /// <summary>A judge that prefers the completion with more copies of the answer: P = σ(4·(copies₁ − copies₂)); it counts its calls.</summary>
    private sealed class CopyJudge : IPairwiseJudge
    {
        public int Pairs;
        public string Name => "copies";
        public float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default)
        {
            Interlocked.Add(ref Pairs, pairs.Count);
            float Copies(ScoringRequest r) => TinyTask.Reward().Score([r])[0] * TinyTask.CompletionLength;
            return [.. pairs.Select(p => 1f / (1f + MathF.Exp(-4 * (Copies(p.First) - Copies(p.Second)))))];
        }
    }

    /// <summary>CopyJudge with its preference score exposed: s = 4·(copies₁ − copies₂), P = σ(s).</summary>
    private sealed class CopyScoreJudge : IPreferenceScoreJudge
    {
        public string Name => "copy-scores";
        public float[] PreferenceScores(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default) =>
            [.. pairs.Select(p => 4 * TinyTask.CompletionLength * (TinyTask.Reward().Score([p.First])[0] - TinyTask.Reward().Score([p.Second])[0]))];
        public float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default) => [.. PreferenceScores(pairs, cancellation).Select(s => 1f / (1f + MathF.Exp(-s)))];
    }

    /// <summary>Rock beats scissors beats paper beats rock, by the completion's text.</summary>
    private sealed class CyclicJudge : IPairwiseJudge
    {
        public string Name => "rps";
        public float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default) =>
            [.. pairs.Select(p => Beats(p.First.Completion, p.Second.Completion) ? 1f : Beats(p.Second.Completion, p.First.Completion) ? 0f : 0.5f)];
        private static bool Beats(string a, string b) => (a, b) is ("rock", "scissors") or ("scissors", "paper") or ("paper", "rock");
    }

    private static ScoringRequest Request(string completion) => new("q", completion, [], [], true, new Dictionary<string, JsonElement>());

    [Fact]
    public void WinRatesAreEachSamplesMeanPreferenceOverTheOthers()
    {
        // A transitive judge on one prompt's three samples: 2 copies > 1 > 0 with P = σ(4·Δ).
        var requests = new[] { "bb", "aa", "ab" }.Select(c => Request(c) with { Extra = new Dictionary<string, JsonElement> { ["answer"] = JsonSerializer.SerializeToElement("a") } }).ToArray();
        var judge = new CopyJudge();
        var rates = PreferencePairs.WinRates(requests, [0, 0, 0], 3, judge);
        Assert.Equal(3, judge.Pairs);   // once per unordered pair
        double S(double x) => 1 / (1 + Math.Exp(-4 * x));
        Assert.Equal((S(-2) + S(-1)) / 2, rates[0], 5);
        Assert.Equal((S(2) + S(1)) / 2, rates[1], 5);
        Assert.Equal((S(1) + S(-1)) / 2, rates[2], 5);
        Assert.Equal(1.5, rates.Sum(), 5);   // n/2: every game gives out one win in total

        // A cycle: every member wins half its games, so nothing is chosen.
        var cycle = new[] { "rock", "paper", "scissors" }.Select(Request).ToArray();
        var cyclic = PreferencePairs.WinRates(cycle, [0, 0, 0], 3, new CyclicJudge());
        Assert.All(cyclic, r => Assert.Equal(0.5f, r));
        Assert.Equal([null], PreferencePairs.BestVersusWorst(cyclic, 3));
        // GPO's signal: ½ + the mean preference score over the others (copies 0, 2, 1 → s = 4·Δ).
        var gpo = PreferencePairs.WinRates(requests, [0, 0, 0], 3, new CopyScoreJudge(), preferenceScores: true);
        Assert.Equal([0.5f + (-8 - 4) / 2f, 0.5f + (8 + 4) / 2f, 0.5f + (4 - 4) / 2f], gpo);
        Assert.Contains("preference scores", Assert.Throws<ArgumentException>(() => PreferencePairs.WinRates(requests, [0, 0, 0], 3, judge, preferenceScores: true)).Message);

        // Without a judge the scores compare: the same pairs as best-versus-worst by score.
        var byScore = PreferencePairs.WinRates(cycle, [0.2f, 0.9f, 0.2f], 3, null);
        Assert.Equal([0.25f, 1f, 0.25f], byScore);
        Assert.Equal(PreferencePairs.BestVersusWorst([0.2f, 0.9f, 0.2f], 3), PreferencePairs.BestVersusWorst(byScore, 3));
    }

    private static IterationSettings Iterations(int count) => new()
    {
        Sampling = new() { MaxPromptLength = 8, MaxCompletionLength = TinyTask.CompletionLength }, Iterations = count, NumGenerations = 6, GenerationBatchSize = 12,
        UpdateReference = true, JudgeImprovement = true,
    };

    private static Reins.Alignment.Training.TrainingArguments Training(string dir) =>
        new() { OutputDir = dir, LearningRate = 3e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 8, NumTrainEpochs = 4, LoggingSteps = 5 };

    [Fact]
    public void SppoAndDnoLearnFromAJudgeOfThePolicysOwnSamples()
    {
        using var scratch = new Scratch();
        var prompts = TinyTask.Prompts(string.Concat(Enumerable.Repeat("abcdef", 8)));
        var judge = new CopyJudge();
        var sppo = new SppoConfig { Training = Training(scratch.Dir("sppo")), Loss = new() { Type = PreferenceLossType.Sppo, Beta = 0.02f }, Iteration = Iterations(4) };
        var dno = new DnoConfig { Training = Training(scratch.Dir("dno")), Loss = new() { Beta = 0.25f }, Iteration = Iterations(4) with { MinWinRateMargin = 0.25f } };
        foreach (IIterativePreferenceConfig config in new IIterativePreferenceConfig[] { sppo, dno })
        {
            new IterativeDpoTrainer(config, TinyTask.Model(), null, TinyTask.Inputs(TinyTask.Reward(), prompts), judge).Train();
            var rows = Scratch.Metrics(config.Training.OutputDir);
            double Value(int i, string key) => rows[i][key]!.GetValue<double>();
            string name = config.GetType().Name;
            Assert.Equal(4, rows.Count);
            Assert.True(Value(3, "reward") > Value(0, "reward") + 0.2, $"{name}: reward {string.Join(", ", rows.Select(r => r["reward"]))}; vs prev {string.Join(", ", rows.Select(r => r["win_rate/vs_previous_iterate"]))}");
            // Each iteration's policy beats the one it started from, by the same judge.
            Assert.True(rows.Average(r => r["win_rate/vs_previous_iterate"]!.GetValue<double>()) > 0.55, $"{name}: {string.Join(", ", rows.Select(r => r["win_rate/vs_previous_iterate"]))}");
            Assert.All(rows, r => Assert.Equal(48, r["pairs/kept"]!.GetValue<double>() + r["pairs/ties"]!.GetValue<double>() + r["pairs/filtered"]!.GetValue<double>()));
        }
        // GPO: SPPO on the judge's preference scores (its targets s̄/β are larger, so β is too).
        var gpo = sppo with { Training = Training(scratch.Dir("gpo")), Loss = sppo.Loss with { Beta = 0.5f }, Iteration = Iterations(4) with { PreferenceSignal = "score" } };
        new IterativeDpoTrainer(gpo, TinyTask.Model(), null, TinyTask.Inputs(TinyTask.Reward(), prompts), new CopyScoreJudge()).Train();
        var gpoRows = Scratch.Metrics(scratch.Dir("gpo"));
        Assert.True(gpoRows[3]["reward"]!.GetValue<double>() > gpoRows[0]["reward"]!.GetValue<double>() + 0.2, string.Join(", ", gpoRows.Select(r => r["reward"])));

        // 48 prompts × C(6, 2) tournament games per iteration, plus one improvement game per prompt.
        Assert.Equal(2 * 4 * 48 * (15 + 1), judge.Pairs);

        // A margin no pair reaches filters every decided pair, counted, and leaves the policy as it was.
        var strict = dno with { Training = Training(scratch.Dir("strict")), Iteration = Iterations(1) with { MinWinRateMargin = 0.999f } };
        var trainer = new IterativeDpoTrainer(strict, TinyTask.Model(), null, TinyTask.Inputs(TinyTask.Reward(), prompts), judge);
        var before = trainer.Model.Parameters.Select(p => p.ToArray()).ToArray();
        trainer.Train();
        var row = Assert.Single(Scratch.Metrics(scratch.Dir("strict")));
        Assert.Equal(0, row["pairs/kept"]!.GetValue<double>());
        Assert.True(row["pairs/filtered"]!.GetValue<double>() > 30, row.ToJsonString());
        Assert.All(trainer.Model.Parameters.Select((p, i) => p.ToArray().SequenceEqual(before[i])), Assert.True);
    }

    [Fact]
    public void OfflineSppoReadsThePairsWinRatesFromTheSppoCodesFields()
    {
        using var scratch = new Scratch();
        string Line(int i, double? win, double? lose) =>
            $$"""{"prompt": "{{(char)('a' + i % 6)}}", "chosen": "aaaa", "rejected": "bbbb"{{(win is null ? "" : $", \"chosen_probs_win\": {win}")}}{{(lose is null ? "" : $", \"chosen_probs_lose\": {lose}")}}}""";
        IReadOnlyList<Reins.Feedback.Datasets.PreferenceExample> Load(string name, IEnumerable<string> lines)
        {
            File.WriteAllLines(scratch.Dir(name), lines);
            return Reins.Feedback.Datasets.JsonlDatasetReader.Load<Reins.Feedback.Datasets.PreferenceExample>(scratch.Dir(name)).Examples;
        }
        Reins.Alignment.Dpo.DpoConfig Config(PreferenceLossType type) => new()
        {
            Training = new() { OutputDir = scratch.Dir(type.ToString()), MaxSteps = 1, PerDeviceTrainBatchSize = 4, LoggingSteps = 1 }, Loss = new() { Type = type, Beta = 0.5f },
        };
        var model = TinyTask.Model();
        Reins.Alignment.Dpo.DpoTrainer Trainer(PreferenceLossType type, IReadOnlyList<Reins.Feedback.Datasets.PreferenceExample> data) =>
            new(Config(type), model.Clone(), model.Clone(), new TinyTask(), data, null, null);

        // With the policy equal to the reference the log-ratios are 0, so the first loss is the mean of
        // ½[((P̂_w − ½)/β)² + ((P̂_l − ½)/β)²]: here ½[(0.3/0.5)² + (−0.4/0.5)²] = 0.5.
        Trainer(PreferenceLossType.Sppo, Load("probs.jsonl", Enumerable.Range(0, 4).Select(i => Line(i, 0.8, 0.1)))).Train();
        Assert.Equal(0.5, Scratch.Metrics(scratch.Dir("Sppo"))[0]["loss"]!.GetValue<double>(), 5);
        Assert.Contains("line 2", Assert.Throws<InvalidDataException>(() => Trainer(PreferenceLossType.Sppo, Load("missing.jsonl", [Line(0, 0.8, 0.1), Line(1, null, null)]))).Message);
        Assert.Contains("chosen_probs_lose", Assert.Throws<InvalidDataException>(() => Trainer(PreferenceLossType.Sigmoid, Load("half.jsonl", [Line(0, 0.8, null)]))).Message);
        Assert.Contains("probability", Assert.Throws<InvalidDataException>(() => Trainer(PreferenceLossType.Sppo, Load("range.jsonl", [Line(0, 1.5, 0.1)]))).Message);
    }

    [Fact]
    public void SppoAndDnoRefuseSettingsThatMakeThemAnotherMethod()
    {
        Assert.Contains("loss_type", Assert.Throws<ArgumentException>(() => new SppoConfig { Loss = new() }.Validate()).Message);
        Assert.Contains("update_reference", Assert.Throws<ArgumentException>(() => new SppoConfig { Iteration = new() }.Validate()).Message);
        Assert.Contains("loss_type", Assert.Throws<ArgumentException>(() => new DnoConfig { Loss = new() { Type = PreferenceLossType.Sppo } }.Validate()).Message);
        Assert.Contains("min_win_rate_margin", Assert.Throws<ArgumentException>(() => new DnoConfig { Iteration = new() { UpdateReference = true, MinWinRateMargin = 1 } }.Validate()).Message);
        // SPPO's defaults are the SPPO code's: β 0.001 against π_t.
        Assert.Equal((PreferenceLossType.Sppo, 0.001f, true), (new SppoConfig().Loss.Type, new SppoConfig().Loss.Beta, new SppoConfig().Iteration.UpdateReference));
    }
}
