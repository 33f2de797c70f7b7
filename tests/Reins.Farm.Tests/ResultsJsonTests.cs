using System.Text.Json;
using Reins.Farm.Report;

namespace Reins.Farm.Tests;

public sealed class ResultsJsonTests
{
    private static string[] Keys(JsonElement o) => [.. o.EnumerateObject().Select(p => p.Name)];

    [Fact]
    public void KeysAreExactlyTheIssueSchema()
    {
        using var doc = JsonDocument.Parse(ReportFixtures.Results(withExtensions: false).ToJson());
        var root = doc.RootElement;
        Assert.Equal(["task", "seed", "config", "annotators", "methods", "overoptimization"], Keys(root));
        Assert.Equal(["agreement_with_gold", "inter_annotator"], Keys(root.GetProperty("annotators")));
        Assert.All(root.GetProperty("methods").EnumerateArray(), m => Assert.Equal(
            ["name", "gold_reward", "gold_reward_ci", "proxy_reward", "kl_to_sft", "win_rate_vs_sft", "lc_win_rate_vs_sft", "mean_length", "seconds"], Keys(m)));
        Assert.Equal(["single", "wco", "uwo"], Keys(root.GetProperty("overoptimization")));
        Assert.All(root.GetProperty("overoptimization").EnumerateObject().SelectMany(c => c.Value.EnumerateArray()),
            p => Assert.Equal(["step", "sqrt_kl", "gold_reward", "proxy_reward"], Keys(p)));
        Assert.Equal("reviews", root.GetProperty("task").GetString());
        Assert.Equal([0.9, 1.0], root.GetProperty("methods")[0].GetProperty("gold_reward_ci").EnumerateArray().Select(e => e.GetDouble()));
    }

    [Fact]
    public void ExtensionsAddTheirKeysWhenSet()
    {
        using var doc = JsonDocument.Parse(ReportFixtures.Results().ToJson());
        Assert.Equal(["agreement_with_gold", "inter_annotator", "cohens_kappa", "fleiss_kappa"], Keys(doc.RootElement.GetProperty("annotators")));
        var bestOf16 = doc.RootElement.GetProperty("methods")[1];
        Assert.Equal(["proxy_reward_ci", "kl_to_sft_ci", "win_rate_vs_sft_ci", "kl_bound"], Keys(bestOf16).Skip(9));
        Assert.Equal(9, Keys(doc.RootElement.GetProperty("methods")[0]).Length);
    }

    [Fact]
    public void AStepByStepTaskAddsItsProcessSupervisionStudy()
    {
        var results = ReportFixtures.Results() with
        {
            ProcessSupervision = new(120, 0.875, [new("prm_gold", 4, 0.5, [0.25, 0.75]), new("majority", 4, 0.25, [0.0, 0.5])],
                [new("orm", null, 0.0, null, 3, 0)], [new("dense_prm", 0, 0.1), new("dense_prm", 10, 0.2)]),
        };
        using var doc = JsonDocument.Parse(results.ToJson());
        var process = doc.RootElement.GetProperty("process_supervision");
        Assert.Equal(["traces", "label_agreement", "best_of_n", "processbench", "ppo"], Keys(process));
        Assert.Equal(["selector", "n", "accuracy", "interval"], Keys(process.GetProperty("best_of_n")[0]));
        Assert.Equal(["judge", "f1", "error_accuracy", "correct_accuracy", "erroneous", "correct"], Keys(process.GetProperty("processbench")[0]));
        Assert.Equal(JsonValueKind.Null, process.GetProperty("processbench")[0].GetProperty("f1").ValueKind);
        Assert.Equal(results.ToJson(), FarmResults.FromJson(results.ToJson()).ToJson());
        Assert.Contains("<h2>Process supervision</h2>", HtmlReport.Render(results, [], []));
        Assert.DoesNotContain("Process supervision", HtmlReport.Render(ReportFixtures.Results(), [], []));
    }

    [Fact]
    public void RoundTripsThroughTheFile()
    {
        var results = ReportFixtures.Results();
        var dir = Directory.CreateTempSubdirectory("reins-farm-");
        try
        {
            string path = results.Write(dir.FullName);
            Assert.Equal(FarmResults.FileName, Path.GetFileName(path));
            var read = FarmResults.Read(path);
            Assert.Equal(results.ToJson(), read.ToJson());
            Assert.Equal((results.Task, results.Seed, results.Annotators), (read.Task, read.Seed, read.Annotators));
            Assert.Equal(results.Methods[1].WinRateVsSftCi, read.Methods[1].WinRateVsSftCi);
            Assert.Equal(results.Methods[1].KlBound, read.Methods[1].KlBound);
            Assert.Null(read.Methods[0].KlBound);
            Assert.Equal(results.Overoptimization.Single, read.Overoptimization.Single);
            // The run's settings come back whole: every stage's steps, learning rates and seed offsets.
            Assert.Equal(results.Config.Seeds, read.Config.Seeds);
            Assert.Equal(results.Config.Ppo, read.Config.Ppo);
            Assert.Equal(results.Config.Online, read.Config.Online);
            Assert.Equal(results.Config.BestOfN, read.Config.BestOfN);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void RefusesToWriteNaN()
    {
        var broken = ReportFixtures.Results() with { Annotators = new AnnotatorResults(double.NaN, 0.5) };
        Assert.Throws<ArgumentException>(() => broken.ToJson());
    }
}
