using Reins.Alignment.Detection;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Reins.Tensors;

namespace Reins.Farm.Tests;

/// <summary>`reins farm --quick` end to end: every method fills every field, the invariants hold, and a seed reproduces.</summary>
public sealed class FarmPipelineTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "reins-farm-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
    }

    [Fact]
    public void QuickRunFillsEveryMethodHoldsTheInvariantsAndReproduces()
    {
        Engine.Threads = 1;
        var first = new FarmPipeline(FarmTasks.Get("reviews"), FarmConfig.Quick, 7, Path.Combine(dir, "a"), _ => { }).Run();

        Assert.Equal(MethodNames.All.OrderBy(x => x), first.Methods.Select(m => m.Name).OrderBy(x => x));
        var sft = first.Methods.Single(m => m.Name == MethodNames.Sft);
        Assert.Equal(0, sft.KlToSft);
        Assert.Equal(0.5, sft.WinRateVsSft);
        foreach (var m in first.Methods)
        {
            Assert.InRange(m.WinRateVsSft, 0, 1);
            Assert.InRange(m.LcWinRateVsSft, 0, 1);
            Assert.True(m.GoldRewardCi[0] <= m.GoldReward && m.GoldReward <= m.GoldRewardCi[1], $"{m.Name}: gold {m.GoldReward} outside its interval");
            Assert.True(m.MeanLength > 0, m.Name);
        }
        // Best-of-n picks by the proxy, so its proxy reward cannot fall below SFT's (up to sampling noise: the intervals).
        var bo4 = first.Methods.Single(m => m.Name == MethodNames.BestOf4);
        var bo16 = first.Methods.Single(m => m.Name == MethodNames.BestOf16);
        Assert.True(bo16.ProxyReward >= bo4.ProxyRewardCi![0], $"best_of_16 proxy {bo16.ProxyReward} below best_of_4's interval");
        Assert.True(bo4.ProxyReward >= sft.ProxyRewardCi![0], $"best_of_4 proxy {bo4.ProxyReward} below sft's interval");
        Assert.True(bo4.KlToSft <= Evaluation.BestOfNKlBound.Of(4) + 1e-12 && bo16.KlToSft <= Evaluation.BestOfNKlBound.Of(16) + 1e-12);
        // Equal budgets: every online method sampled the same completions in training; best-of-n draws n per held-out prompt.
        var config = FarmConfig.Quick;
        foreach (var name in new[] { MethodNames.ExpertIteration, MethodNames.OnlineDpo, MethodNames.Ppo, MethodNames.Grpo, MethodNames.Rloo })
            Assert.Equal(config.Online.Steps * config.Online.BatchSize, first.Methods.Single(m => m.Name == name).Samples);
        Assert.Equal((4L * config.EvalPrompts, 16L * config.EvalPrompts, 0L, 0L), (bo4.Samples, bo16.Samples, sft.Samples, first.Methods.Single(m => m.Name == MethodNames.Dpo).Samples));
        foreach (var (name, points) in first.Overoptimization.Curves())
            Assert.True(points.Count >= 2 && points.All(p => double.IsFinite(p.SqrtKl) && double.IsFinite(p.GoldReward)), name);
        Assert.InRange(first.Annotators.AgreementWithGold, 0.5, 1);
        Assert.True(File.Exists(Path.Combine(dir, "a", HtmlReport.FileName)));
        Assert.True(File.Exists(Path.Combine(dir, "a", "metrics", "ppo.jsonl")));
        // per_prompt.json holds the very outcomes and gold rewards results.json was computed from.
        var perPrompt = PerPromptValues.Read(Path.Combine(dir, "a"));
        foreach (var m in first.Methods.Where(m => m.Name != MethodNames.Sft))
            Assert.Equal(m.WinRateVsSft, Evaluation.WinRate.Of(perPrompt.Methods[m.Name].Win), 12);
        Assert.All(first.Methods, m => Assert.Equal(m.GoldReward, perPrompt.Methods[m.Name].Gold.Average(), 12));
        // results.json records the whole config it ran.
        Assert.Equal(config.ToJson(), FarmResults.Read(Path.Combine(dir, "a", FarmResults.FileName)).Config.ToJson());

        var second = new FarmPipeline(FarmTasks.Get("reviews"), FarmConfig.Quick, 7, Path.Combine(dir, "b"), _ => { }).Run();
        static string WithoutTimes(FarmResults r) => (r with { Methods = [.. r.Methods.Select(m => m with { Seconds = 0 })] }).ToJson();
        Assert.Equal(WithoutTimes(first), WithoutTimes(second));
        Assert.Null(first.ProcessSupervision);
    }

    [Fact]
    public void TheSafetyTaskRunsTheSafetyStudy()
    {
        Engine.Threads = 1;
        var results = new FarmPipeline(FarmTasks.Get("safety"), FarmConfig.Quick, 5, Path.Combine(dir, "safety"), _ => { }).Run();
        string[] safetyMethods = [MethodNames.PpoShaped, MethodNames.SafePpo, MethodNames.SafeGrpo, MethodNames.BestOfSafe(FarmConfig.Quick.Safety.BestOfN)];
        Assert.Equal(MethodNames.All.Concat(safetyMethods).OrderBy(x => x), results.Methods.Select(m => m.Name).OrderBy(x => x));
        // Every row carries the safety rates, and the gold cost agrees with them: a harmful response costs above 0, the rest −1.
        foreach (var m in results.Methods)
        {
            Assert.InRange(m.HarmfulRate!.Value, 0, 1);
            Assert.InRange(m.OverRefusalRate!.Value, 0, 1);
            Assert.InRange(m.GoldCost!.Value, -1, 1);
        }
        var safety = results.Safety!;
        Assert.Equal(results.Methods.Select(m => m.Name), safety.SafetyTests.Select(t => t.Method));
        Assert.All(safety.SafetyTests, t => Assert.True(t.UpperBound >= t.MeanCost && (t.Result == "pass") == (t.UpperBound <= safety.Threshold), t.Method));
        Assert.Equal([MethodNames.SafePpo, MethodNames.SafeGrpo], safety.Lambda.Select(p => p.Method).Distinct());
        Assert.All(safety.Lambda, p => Assert.True(p.Lambda > 0 && p.Lambda <= 5));
        Assert.Equal(FarmConfig.Quick.Safety.DriftPeriods, safety.JailbreakDrift.Count);
        Assert.Null(safety.JailbreakDrift[0].Static);
        Assert.All(safety.JailbreakDrift.Skip(1), p => Assert.InRange(p.Static!.Value, 0, 1));
        Assert.InRange(safety.LabelAgreement, 0.8, 1);
        // The drift replay reports too, so its requests are test prompts: none the tuning's development prompts (whose
        // texts end every plain or wrapped request of the stream) may appear in what its self-training labelled.
        var development = FarmTasks.Get("safety").Prompts(FarmSplit.Development, 3000, 1).Select(p => p.Prompt.Text!).ToHashSet();
        using var state = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "safety", "runs", "detector-stream", DetectorStream.StateFile)));
        var labelled = state.RootElement.GetProperty("SelfLabels").EnumerateArray().Select(l => l.GetProperty("Prompt").GetString()!).ToArray();
        Assert.NotEmpty(labelled);
        Assert.DoesNotContain(labelled, l => development.Any(d => l.EndsWith(d, StringComparison.Ordinal)));
        var html = File.ReadAllText(Path.Combine(dir, "safety", HtmlReport.FileName));
        Assert.Contains("Helpfulness against harm", html);
        Assert.Contains("Lagrange multiplier over training", html);
        Assert.Contains("Jailbreak detection under drift", html);
        Assert.Equal(results.ToJson(), FarmResults.FromJson(results.ToJson()).ToJson());
    }

    [Fact]
    public void TheCyclicTaskRunsTheCyclicStudy()
    {
        Engine.Threads = 1;
        var config = FarmConfig.Quick;
        var results = new FarmPipeline(FarmTasks.Get("cyclic"), config, 4, Path.Combine(dir, "cyclic"), _ => { }).Run();
        string[] selfPlay = [MethodNames.NashMd, MethodNames.Sppo, MethodNames.Dno];
        Assert.Equal(MethodNames.All.Concat(selfPlay).OrderBy(x => x), results.Methods.Select(m => m.Name).OrderBy(x => x));
        // The online methods' budget: Nash-MD in steps; SPPO and DNO in whole iterations of num_generations samples per prompt.
        long budget = config.Online.Steps * config.Online.BatchSize, perIteration = config.SelfPlay.Iterations * config.SelfPlay.NumGenerations;
        Assert.Equal(budget, results.Methods.Single(m => m.Name == MethodNames.NashMd).Samples);
        Assert.All(results.Methods.Where(m => m.Name is MethodNames.Sppo or MethodNames.Dno), m => Assert.Equal(budget / perIteration * perIteration, m.Samples));
        var cyclic = results.Cyclic!;
        Assert.Equal(config.EvalPrompts, cyclic.HeldOutPairs);
        Assert.Equal(["bradley_terry", "gpm", "pair"], cyclic.PairAccuracy.Select(a => a.Model));
        Assert.All(cyclic.PairAccuracy, a => Assert.InRange(a.Accuracy, 0, 1));
        Assert.Equal(results.Methods.Select(m => m.Name), cyclic.StyleMix.Select(m => m.Method));
        foreach (var mix in cyclic.StyleMix)
        {
            // Shares add to one; no mix does better than the uniform one's ½ against its best response.
            Assert.Equal(1, mix.Styles.Values.Sum() + mix.Other, 12);
            Assert.InRange(mix.WorstCaseWinRate, 0, 0.5 + 1e-12);
            // The gold reward is well-formedness: the share of replies in one style.
            Assert.Equal(results.Methods.Single(m => m.Name == mix.Method).GoldReward, 1 - mix.Other, 12);
        }
        // The annotators choose by the cycle, so their agreement is measured against it.
        Assert.InRange(results.Annotators.AgreementWithGold, 0.5, 1);
        Assert.Contains("Preferences in a cycle", File.ReadAllText(Path.Combine(dir, "cyclic", HtmlReport.FileName)));
        Assert.Equal(results.ToJson(), FarmResults.FromJson(results.ToJson()).ToJson());
    }

    [Fact]
    public void ThePluralisticTaskRunsThePluralisticStudy()
    {
        Engine.Threads = 1;
        var config = FarmConfig.Quick;
        var task = (Tasks.Pluralistic.IPluralisticTask)FarmTasks.Get("pluralistic");
        var results = new FarmPipeline(task, config, 4, Path.Combine(dir, "plural"), _ => { }).Run();
        Assert.Equal(MethodNames.All.Concat([MethodNames.PpoMixture, MethodNames.PpoMaxMin]).OrderBy(x => x), results.Methods.Select(m => m.Name).OrderBy(x => x));
        var plural = results.Pluralistic!;
        Assert.Equal([("praise", 3), ("brevity", 1)], plural.Groups.Select(g => (g.Name, g.Annotators)));
        Assert.InRange(plural.AssignmentAccuracy, 0, 1);
        Assert.Equal(results.Methods.Select(m => m.Name), plural.Methods.Select(m => m.Method));
        foreach (var m in plural.Methods)
        {
            // The population's gold is the groups' share-weighted mean, response by response and so on average.
            Assert.Equal(results.Methods.Single(r => r.Name == m.Method).GoldReward, task.Groups.Sum(g => g.Share * m.Groups[g.Name].Gold), 9);
            Assert.All(m.Groups.Values, g => Assert.True(m.Method == MethodNames.Sft ? g.WinRate is null : g.WinRate is >= 0 and <= 1, m.Method));
        }
        // The mixture was trained on annotator ids the pool wrote: its assignments name the pool's members.
        var assigned = Alignment.RewardModeling.MixtureAssignments.Load(Path.Combine(dir, "plural", "runs", "mixture-reward-model")).Annotators.Keys.Order();
        Assert.Equal(Enumerable.Range(0, config.Annotation.Annotators).Select(Feedback.Annotators.AnnotatorPool.SimulatedId).Order(), assigned);
        Assert.Contains("Groups that want different things", File.ReadAllText(Path.Combine(dir, "plural", HtmlReport.FileName)));
        Assert.Equal(results.ToJson(), FarmResults.FromJson(results.ToJson()).ToJson());
    }

    [Fact]
    public void AStepByStepTaskRunsTheProcessSupervisionStudy()
    {
        Engine.Threads = 1;
        var results = new FarmPipeline(FarmTasks.Get("arithmetic-steps"), FarmConfig.Quick, 3, Path.Combine(dir, "steps"), _ => { }).Run();
        var process = results.ProcessSupervision!;
        var settings = FarmConfig.Quick.Process;
        Assert.True(process.Traces > 0 && process.Traces <= settings.TracePrompts * settings.TracesPerPrompt);
        Assert.InRange(process.LabelAgreement, 0, 1);
        Assert.Equal(settings.BestOfN.Count * 4, process.BestOfN.Count);
        Assert.All(process.BestOfN, p => Assert.True(p.Interval[0] <= p.Accuracy && p.Accuracy <= p.Interval[1], $"{p.Selector}@{p.N}"));
        // With one sample there is nothing to choose: every selector's pick is that sample.
        Assert.Single(process.BestOfN.Where(p => p.N == 1).Select(p => p.Accuracy).Distinct());
        Assert.Equal(["prm_gold", "prm_shepherd", "orm", "critic"], process.ProcessBench.Select(p => p.Judge));
        Assert.All(process.ProcessBench, p => Assert.True(p.Erroneous + p.Correct <= 2 * settings.ProcessBenchPerClass));
        Assert.Equal(["dense_prm", "outcome_orm"], process.Ppo.Select(p => p.Reward).Distinct());
        Assert.Equal(2 * (1 + settings.PpoSteps / settings.PpoEvery), process.Ppo.Count);
        Assert.Contains("Process supervision", File.ReadAllText(Path.Combine(dir, "steps", HtmlReport.FileName)));
    }
}
