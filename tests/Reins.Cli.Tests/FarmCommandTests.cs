using Microsoft.AspNetCore.Http;
using Reins.Cli.Commands;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;

namespace Reins.Cli.Tests;

/// <summary>`reins farm`'s seed lists and the table it writes when its output is not a terminal.</summary>
public class FarmCommandTests
{
    [Fact]
    public async Task AnLlmJudgeJoinsTheFarmsAnnotatorPool()
    {
        // A stub judge that always answers "a": both orders make every pair a tie, which the member breaks by hash.
        int asked = 0;
        var (stub, api) = await StubEndpoint.StartAsync(context =>
        {
            Interlocked.Increment(ref asked);
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync("""{"id":"x","object":"chat.completion","created":0,"model":"stub","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"a"}}]}""");
        });
        await using var _ = stub;
        string endpoint = api.ToString();
        string dir = Path.Combine(Path.GetTempPath(), $"reins-farm-judge-{Guid.NewGuid():N}");
        try
        {
            var root = new System.CommandLine.RootCommand { FarmCommand.Create() };
            Assert.Equal(0, await root.Parse(["farm", "--quick", "--seed", "1", "--out", dir, "--judge-endpoint", endpoint, "--judge-model", "stub"])
                .InvokeAsync(new System.CommandLine.InvocationConfiguration { EnableDefaultExceptionHandler = false }));
            var results = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "results.json")))!;
            Assert.Equal("llm:stub", results["annotators"]!["external_members"]![0]!.GetValue<string>());
            Assert.True(asked > 0, "the judge was never asked");
            Assert.True(File.Exists(Path.Combine(dir, "judge-cache.sqlite")));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SeedsAreListsRangesOrBoth()
    {
        Assert.Equal([1UL, 2, 3], FarmCommand.ParseSeeds("1,2,3"));
        Assert.Equal([1UL, 2, 3, 4, 5], FarmCommand.ParseSeeds("1-5"));
        Assert.Equal([101UL, 102, 103, 7], FarmCommand.ParseSeeds("101-103, 7"));
        Assert.Contains("'x'", Assert.Throws<ArgumentException>(() => FarmCommand.ParseSeeds("1,x")).Message);
        Assert.Contains("'5-1'", Assert.Throws<ArgumentException>(() => FarmCommand.ParseSeeds("5-1")).Message);
        Assert.Contains("seed 2 is given twice", Assert.Throws<ArgumentException>(() => FarmCommand.ParseSeeds("1-3,2")).Message);
        Assert.Contains("'1-2-3'", Assert.Throws<ArgumentException>(() => FarmCommand.ParseSeeds("1-2-3")).Message);
    }

    [Fact]
    public void OneRunNeverMixesDevelopmentAndTestSeeds()
    {
        var root = new System.CommandLine.RootCommand { FarmCommand.Create() };
        var error = Assert.Throws<ArgumentException>(() => root.Parse(["farm", "--quick", "--seeds", "3,101", "--out", Path.GetTempPath()])
            .Invoke(new System.CommandLine.InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        Assert.Contains("mixes development seeds (101,102,103) with test seeds", error.Message);
    }

    [Fact]
    public void TuningIsRefusedATestSeedAndAnUnknownMethod()
    {
        var root = new System.CommandLine.RootCommand { FarmCommand.Create() };
        string dir = Path.Combine(Path.GetTempPath(), "reins-tune-refused-" + Guid.NewGuid().ToString("N"));
        ArgumentException Refusal(params string[] args) => Assert.Throws<ArgumentException>(() => root.Parse(["farm", "tune", "--quick", "--out", dir, .. args])
            .Invoke(new System.CommandLine.InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        Assert.Contains("seed 7 is a test seed; tuning reads only the development seeds (101, 102, 103)", Refusal("--seeds", "101,7").Message);
        Assert.Contains("no tuning grid for method 'best_of_16'", Refusal("--methods", "dpo,best_of_16").Message);
        Assert.Contains("not a positive multiple of the online batch", Refusal("--budget", "100").Message);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void TheRedirectedTableIsMarkdownWithOneLinePerMethod()
    {
        MethodResult Row(string name, double gold, double? harmful = null) =>
            new(name, gold, [gold - 0.1, gold + 0.1], 0.2, name == MethodNames.Sft ? 0 : 1.5, 0.55, 0.52, 12.3, 42)
            {
                HarmfulRate = harmful, OverRefusalRate = harmful is null ? null : 0.25, Samples = name == MethodNames.Sft ? 0 : 1920,
            };
        var results = new FarmResults("reviews", 1, FarmConfig.Quick, new AnnotatorResults(0.7, 0.6), [Row(MethodNames.Sft, 0.95), Row("a_method_with_a_long_name_indeed", 1.234)],
            new OveroptimizationResults([], [], []));
        var lines = FarmCommand.MarkdownTable(results).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("| method | gold reward (95% CI) | proxy reward | KL to SFT | win-rate vs SFT | LC win-rate | length | samples | s |", lines[0]);
        Assert.Equal("| a_method_with_a_long_name_indeed | 1.234 [1.134, 1.334] | 0.200 | 1.50 | 0.550 | 0.520 | 12.3 | 1,920 | 42 |", lines[3]);
        Assert.StartsWith("annotators: agreement with gold 70.0", lines[4]);
        // A safety task's rows add their harmful and over-refusal rates.
        var safety = results with { Methods = [Row(MethodNames.Sft, 0.3, harmful: 0.5)] };
        Assert.Contains("| harmful | over-refusal |", FarmCommand.MarkdownTable(safety));
        Assert.Contains("| 0.500 | 0.250 |", FarmCommand.MarkdownTable(safety));
    }
}
