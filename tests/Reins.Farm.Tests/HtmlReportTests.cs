using System.Xml.Linq;
using Reins.Farm.Report;

namespace Reins.Farm.Tests;

public sealed class HtmlReportTests
{
    private static readonly XNamespace SvgNamespace = "http://www.w3.org/2000/svg";

    private static readonly TrainingCurve[] Curves =
    [
        new("sft", "loss", [(1, 2.5), (2, 1.9), (3, 1.2)]),
        new("dpo", "loss", [(1, 0.69), (2, 0.6)]),
        new("ppo", "objective/kl", [(10, 0.1), (20, 0.4)]),
    ];

    private const string Hostile = "<script>alert('x')</script> & \"quoted\" \u0001\n- second line";

    private static readonly ExampleResponse[] Examples =
    [
        new("Write a review of the kettle.", "sft", "the price is okay.", 0.9),
        new("Write a review of the kettle.", "ppo", Hostile, -0.5),
        new("Write a review of the <lamp>.", "sft", "i love this lamp.", 1.6),
    ];

    private static XDocument Parse(string html)
    {
        Assert.StartsWith("<!DOCTYPE html>", html);
        return XDocument.Parse(html["<!DOCTYPE html>".Length..]);
    }

    [Fact]
    public void IsWellFormedWithOneSvgPerChart()
    {
        var doc = Parse(HtmlReport.Render(ReportFixtures.Results(), Curves, Examples, "Task <description> & more"));
        var svgs = doc.Descendants(SvgNamespace + "svg").ToList();
        // Frontier, gold and proxy over-optimisation, win-rates, agreement, and one per training metric (loss, objective/kl).
        Assert.Equal(7, svgs.Count);
        Assert.Equal(
            ["Gold reward against KL(policy || SFT), 95% CI", "Gold reward against sqrt(KL)", "Proxy reward against sqrt(KL)",
             "Win-rate against SFT (evaluator pool, ties count half)", "Training annotator pool", "loss", "objective/kl"],
            svgs.Select(s => s.Element(SvgNamespace + "title")!.Value));
        // The frontier has one marker per method; the win-rate chart draws whiskers for the one interval given.
        Assert.Equal(3, svgs[0].Descendants(SvgNamespace + "circle").Count());
        Assert.Single(svgs[3].Descendants(SvgNamespace + "path"));
        Assert.Equal(3, svgs[3].Descendants(SvgNamespace + "rect").Count(r => r.Attribute("fill")?.Value == "#0072B2"));
        Assert.Equal(4, svgs[4].Descendants(SvgNamespace + "rect").Count(r => r.Attribute("fill")?.Value == "#009E73"));
        Assert.Equal(2, svgs[5].Descendants(SvgNamespace + "polyline").Count());
    }

    [Fact]
    public void EscapesEveryText()
    {
        string html = HtmlReport.Render(ReportFixtures.Results(), Curves, Examples, "Task <description> & more");
        Assert.DoesNotContain("<script>", html);
        Assert.DoesNotContain("<lamp>", html);
        Assert.DoesNotContain("<description>", html);
        Assert.Contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;", html);
        var cells = Parse(html).Descendants("td").Select(td => td.Value).ToList();
        Assert.Contains(cells, c => c.StartsWith("<script>alert('x')</script> & \"quoted\" \uFFFD\n- second line", StringComparison.Ordinal));
        Assert.Contains("Write a review of the <lamp>.", cells);
    }

    [Fact]
    public void IsSelfContained()
    {
        string html = HtmlReport.Render(ReportFixtures.Results(), Curves, Examples);
        var doc = Parse(html);
        Assert.DoesNotContain(doc.Descendants(), e => e.Name.LocalName is "script" or "link" or "img" or "iframe");
        Assert.DoesNotContain(doc.Descendants().Attributes(), a => a.Name.LocalName is "src" or "href");
        Assert.Equal(["http://www.w3.org/2000/svg"], html.Split('"').Where(s => s.StartsWith("http", StringComparison.Ordinal)).Distinct());
    }

    [Fact]
    public void EmptyInputsStillGiveAWellFormedPage()
    {
        var empty = ReportFixtures.Results() with { Overoptimization = new OveroptimizationResults([], [], []) };
        var doc = Parse(HtmlReport.Render(empty, [], []));
        Assert.Equal(5, doc.Descendants(SvgNamespace + "svg").Count());
        Assert.Equal(2, doc.Descendants(SvgNamespace + "text").Count(t => t.Value == "no data"));
    }

    [Fact]
    public void ReadsTrainingCurvesFromMetricsJsonl()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "{\"step\":1,\"loss\":2.5,\"objective/kl\":null}\n\n{\"step\":2,\"loss\":1.5,\"objective/kl\":0.25}\n{\"step\":3}\n");
            var curves = TrainingCurve.FromMetricsJsonl("ppo", path, ["loss", "objective/kl"]);
            Assert.Equal([(1L, 2.5), (2L, 1.5)], curves[0].Points);
            Assert.Equal([(2L, 0.25)], curves[1].Points);
            Assert.Equal(("ppo", "objective/kl"), (curves[1].Method, curves[1].Metric));
            // Against completions sampled: a row without "episode" has no point.
            File.WriteAllText(path, "{\"step\":1,\"reward\":0.5,\"episode\":16}\n{\"step\":2,\"reward\":0.75}\n{\"step\":3,\"reward\":1,\"episode\":48}\n");
            var bySamples = Assert.Single(TrainingCurve.FromMetricsJsonl("grpo", path, ["reward"], x: "episode"));
            Assert.Equal([(16L, 0.5), (48L, 1.0)], bySamples.Points);
            var page = Parse(HtmlReport.Render(ReportFixtures.Results(), [bySamples], []));
            Assert.Contains(page.Descendants(SvgNamespace + "text"), t => t.Value == "reward against completions sampled");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void WritesTheFileIntoTheRunDirectory()
    {
        var dir = Directory.CreateTempSubdirectory("reins-farm-");
        try
        {
            string path = HtmlReport.Write(dir.FullName, ReportFixtures.Results(), Curves, Examples);
            Assert.Equal(Path.Combine(dir.FullName, HtmlReport.FileName), path);
            Parse(File.ReadAllText(path));
        }
        finally { dir.Delete(recursive: true); }
    }
}
