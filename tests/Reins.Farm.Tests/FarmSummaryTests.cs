using Reins.Farm.Evaluation;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Reins.Tensors;

namespace Reins.Farm.Tests;

/// <summary>The multi-seed summary: its hierarchical bootstrap, the split it refuses to mix, and findings computed from the numbers.</summary>
public sealed class FarmSummaryTests
{
    private static double[] Normal(int n, ulong seed, double mean, double sd = 1)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, n).Select(_ => mean + sd * rng.NextNormal())];
    }

    [Fact]
    public void TheHierarchicalIntervalHoldsTheSeedToSeedSpread()
    {
        // Seeds whose means differ by far more than their prompts' noise: resampling prompts alone would give a narrow
        // interval around the pooled mean; resampling seeds too must give one as wide as the seeds' spread.
        IReadOnlyList<double>[] seeds = [Normal(200, 1, 0.0, 0.1), Normal(200, 2, 1.0, 0.1), Normal(200, 3, 2.0, 0.1)];
        var ci = Bootstrap.Hierarchical(seeds, seed: 5);
        Assert.Equal(seeds.Average(s => s.Average()), ci.Estimate, 12);
        Assert.True(ci.Low < 0.5 && ci.High > 1.5, $"[{ci.Low}, {ci.High}]");
        var pooled = Bootstrap.Mean([.. seeds.SelectMany(s => s)], seed: 5);
        Assert.True(pooled.High - pooled.Low < 0.2 * (ci.High - ci.Low), $"pooled [{pooled.Low}, {pooled.High}]");
        // One seed: just the prompts' bootstrap width.
        var one = Bootstrap.Hierarchical([seeds[1]], seed: 5);
        Assert.InRange(one.High - one.Low, 0.01, 0.05);
        Assert.Equal(ci, Bootstrap.Hierarchical(seeds, seed: 5));
    }

    private static (FarmResults, PerPromptValues) Run(ulong seed, string split, double gain, string task = "reviews")
    {
        MethodResult Row(string name, double gold, double proxy) => new(name, gold, [gold - 0.1, gold + 0.1], proxy, name == MethodNames.Sft ? 0 : 3, 0.5, 0.5, 10, 1);
        var sft = Normal(100, seed, 1.0, 0.2);
        var better = sft.Select(g => g + gain).ToArray();
        var worse = sft.Select(g => g - 0.5).ToArray();
        var results = new FarmResults(task, seed, FarmConfig.Quick, new AnnotatorResults(0.7, 0.6),
            [Row(MethodNames.Sft, sft.Average(), 0), Row(MethodNames.Dpo, better.Average(), 0.5), Row(MethodNames.Ppo, worse.Average(), 3)], new OveroptimizationResults([], [], []))
        { Split = split };
        var values = new PerPromptValues(new Dictionary<string, PromptValues>
        {
            [MethodNames.Sft] = new(sft, []),
            [MethodNames.Dpo] = new(better, [.. Enumerable.Range(0, 100).Select(i => i % 4 == 0 ? 0.0 : 1.0)]),
            [MethodNames.Ppo] = new(worse, [.. Enumerable.Range(0, 100).Select(i => i % 4 == 0 ? 1.0 : 0.0)]),
        });
        return (results, values);
    }

    [Fact]
    public void FindingsFollowFromTheIntervals()
    {
        var summary = FarmSummary.From([Run(1, "test", 0.3), Run(2, "test", 0.25), Run(3, "test", 0.35)]);
        Assert.Equal([1UL, 2, 3], summary.Seeds);
        var dpo = summary.Methods.Single(m => m.Name == MethodNames.Dpo);
        Assert.True(dpo.GoldMinusSftCi![0] > 0 && dpo.WinRateCi![0] > 0.5);
        Assert.Equal(3, dpo.PerSeedGold.Length);
        Assert.Contains("beat SFT on gold beyond the 95% interval: dpo (+0.30 gold", summary.Findings[0]);
        Assert.Contains("below SFT on gold beyond the interval: ppo (-0.50 gold", summary.Findings[1]);
        Assert.Contains("evaluator pool beyond the interval: dpo (win-rate 0.750)", summary.Findings[3]);
        Assert.Contains("Over-optimised (proxy reward above SFT's while gold fell below it beyond the interval): ppo", summary.Findings[4]);
        // A gain the seeds disagree on is not a finding.
        var mixed = FarmSummary.From([Run(1, "test", 0.4), Run(2, "test", -0.4)]);
        Assert.Contains("Within the interval of SFT on gold: dpo", mixed.Findings[2]);
    }

    [Fact]
    public void TheSummaryPageShowsTheFindingsAndEverySeed()
    {
        var summary = FarmSummary.From([Run(1, "test", 0.3), Run(2, "test", 0.25)]);
        string html = HtmlReport.RenderSummary(summary);
        var doc = System.Xml.Linq.XDocument.Parse(html["<!DOCTYPE html>".Length..]);
        System.Xml.Linq.XNamespace svg = "http://www.w3.org/2000/svg";
        Assert.Equal(2, doc.Descendants(svg + "svg").Count());
        // The gold chart: a dot per method and seed, at that seed's gold reward.
        var dots = doc.Descendants(svg + "svg").First().Descendants(svg + "circle").Select(c => c.Element(svg + "title")!.Value).ToArray();
        Assert.Equal(summary.Methods.Count * 2, dots.Length);
        var dpo = summary.Methods.Single(m => m.Name == MethodNames.Dpo);
        Assert.Contains($"dpo seed 2: {dpo.PerSeedGold[1]:0.###}", dots);
        var items = doc.Descendants("li").Select(li => li.Value).ToArray();
        Assert.Equal(summary.Findings, items);
        Assert.Contains("seed 1", html);
        Assert.Contains("seed 2", html);
    }

    [Fact]
    public void DevelopmentAndTestSeedsAreNeverSummarisedTogether()
    {
        Assert.Contains("mix development and test seeds", Assert.Throws<InvalidDataException>(() => FarmSummary.From([Run(1, "test", 0.3), Run(101, "dev", 0.3)])).Message);
        Assert.Contains("another task", Assert.Throws<InvalidDataException>(() => FarmSummary.From([Run(1, "test", 0.3), Run(2, "test", 0.3, task: "arithmetic")])).Message);
        Assert.Equal(("dev", "test"), (FarmConfig.Default.SplitOf(101), FarmConfig.Default.SplitOf(1)));
    }

    [Fact]
    public void DevelopmentSeedsStateNoFinding()
    {
        // The same numbers that give findings on test seeds give none on development seeds.
        var test = FarmSummary.From([Run(1, "test", 0.3), Run(2, "test", 0.25)]);
        var development = FarmSummary.From([Run(101, "dev", 0.3), Run(102, "dev", 0.25)]);
        Assert.Contains(test.Findings, f => f.Contains("beat SFT"));
        Assert.Equal(["No findings: seeds 101, 102 are development seeds, which tuning selects on; findings come from test seeds only."], development.Findings);
    }
}

/// <summary>Farm config files: the committed untuned config is today's default, and a typo is refused, not defaulted.</summary>
public sealed class FarmConfigFileTests
{
    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException(relative);
    }

    [Fact]
    public void TheUntunedConfigIsTheFrozenDefaultWithoutDevelopmentPrompts()
    {
        var untuned = FarmConfig.Load(RepoFile("farm/configs/untuned.json"));
        Assert.Equal((FarmConfig.Default with { ReserveDevelopmentPrompts = false }).ToJson(), untuned.ToJson());
        // The untuned config evaluates on every held-out prompt, as it did; any other config leaves the development ones to tuning.
        Assert.Equal((FarmSplit.Eval, FarmSplit.Test), (untuned.EvaluationSplit, FarmConfig.Default.EvaluationSplit));
        Assert.NotEqual(FarmConfig.Default.ToJson(), FarmConfig.Quick.ToJson());
    }

    [Fact]
    public void QuickShrinksStepsAndKeepsTheMethodsSettings()
    {
        var tuned = FarmConfig.Default with { Ppo = FarmConfig.Default.Ppo with { KlCoef = 0.2f }, Grpo = new(1e-3f, 8, 0.04f) };
        var quick = FarmConfig.QuickOf(tuned);
        Assert.Equal((0.2f, 8, 0.04f), (quick.Ppo.KlCoef, quick.Grpo.NumGenerations, quick.Grpo.Beta));
        Assert.Equal((FarmConfig.Quick.Online.Steps, FarmConfig.Quick.Sft.Steps, FarmConfig.Quick.EvalPrompts), (quick.Online.Steps, quick.Sft.Steps, quick.EvalPrompts));
        Assert.True(quick.Online.Steps < tuned.Online.Steps);
    }

    [Fact]
    public void AnOnlineBudgetSetsTheStepsOfEveryOnlineMethod()
    {
        var config = FarmConfig.Default.WithOnlineBudget(4800);
        Assert.Equal(4800 / FarmConfig.Default.Online.BatchSize, config.Online.Steps);
        Assert.Contains("not a positive multiple", Assert.Throws<ArgumentException>(() => FarmConfig.Default.WithOnlineBudget(100)).Message);
    }

    [Fact]
    public void ATaskWithoutATunedConfigRunsTheDefault()
    {
        Assert.Equal(FarmConfig.Default.ToJson(), FarmConfig.ForTask("no-such-task").ToJson());
        // Every committed tuned config is built in and loads.
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(RepoFile("farm/configs/untuned.json"))!, "*.json"))
            Assert.Equal(FarmConfig.Load(file).ToJson(), FarmConfig.ForTask(Path.GetFileNameWithoutExtension(file)).ToJson());
    }

    [Fact]
    public void APartialConfigKeepsDefaultsAndAnUnknownKeyIsRefused()
    {
        var dir = Directory.CreateTempSubdirectory("reins-farm-config-").FullName;
        try
        {
            string partial = Path.Combine(dir, "partial.json"), typo = Path.Combine(dir, "typo.json");
            File.WriteAllText(partial, """{"eval_prompts": 50, "online": {"steps": 200}}""");
            var config = FarmConfig.Load(partial);
            Assert.Equal((50, 200, FarmConfig.Default.Online.BatchSize, FarmConfig.Default.Vocab), (config.EvalPrompts, config.Online.Steps, config.Online.BatchSize, config.Vocab));
            File.WriteAllText(typo, """{"eval_promts": 50}""");
            var error = Assert.Throws<InvalidDataException>(() => FarmConfig.Load(typo));
            Assert.Contains("typo.json", error.Message);
            Assert.Contains("eval_promts", error.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
