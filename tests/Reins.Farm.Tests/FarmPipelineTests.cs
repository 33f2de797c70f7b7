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
        foreach (var (name, points) in first.Overoptimization.Curves())
            Assert.True(points.Count >= 2 && points.All(p => double.IsFinite(p.SqrtKl) && double.IsFinite(p.GoldReward)), name);
        Assert.InRange(first.Annotators.AgreementWithGold, 0.5, 1);
        Assert.True(File.Exists(Path.Combine(dir, "a", HtmlReport.FileName)));
        Assert.True(File.Exists(Path.Combine(dir, "a", "metrics", "ppo.jsonl")));

        var second = new FarmPipeline(FarmTasks.Get("reviews"), FarmConfig.Quick, 7, Path.Combine(dir, "b"), _ => { }).Run();
        static string WithoutTimes(FarmResults r) => (r with { Methods = [.. r.Methods.Select(m => m with { Seconds = 0 })] }).ToJson();
        Assert.Equal(WithoutTimes(first), WithoutTimes(second));
    }
}
