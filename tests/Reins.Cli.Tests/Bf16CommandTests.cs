using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Reins.Cli.Commands;
using Reins.Cli.Commands.Training;

namespace Reins.Cli.Tests;

/// <summary>
/// TRL's --bf16 on a trainer: the run stores its saved activations as bfloat16, so its first loss (a float32 forward
/// pass) is the float32 run's exactly and the later ones move off it by rounding, not by more.
/// </summary>
public sealed class Bf16CommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("reins-bf16-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private static int Run(params string[] args)
    {
        var root = new RootCommand { ModelCommand.Create(), SftCommand.Create() };
        var previous = Console.Out;
        Console.SetOut(new StringWriter(CultureInfo.InvariantCulture));
        try { return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }); }
        finally { Console.SetOut(previous); }
    }

    private double[] Losses(string run) =>
        [.. File.ReadLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Where(n => n["loss"] is not null).Select(n => n["loss"]!.GetValue<double>())];

    [Fact]
    public void SftWithBf16TracksTheFloat32Run()
    {
        string baseModel = Path.Combine(dir, "base"), train = Path.Combine(dir, "sft.jsonl");
        // Wide enough (64 features × 8 rows × ~30 tokens) that each block's activations reach the packing size.
        Assert.Equal(0, Run("model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "64", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "3", "--out", baseModel));
        File.WriteAllLines(train, Enumerable.Range(0, 32).Select(i =>
            new JsonObject { ["prompt"] = $"n{i}=", ["completion"] = new string((char)('a' + i % 5), 24) }.ToJsonString()));
        string Sft(string name, params string[] extra)
        {
            var run = Path.Combine(dir, name);
            Assert.Equal(0, Run([.. new[] { "sft", "--model", baseModel, "--train", train, "--out", run, "--max-steps", "6", "--learning-rate", "3e-3", "--logging-steps", "1", "--threads", "1" }, .. extra]));
            return run;
        }
        var fp32 = Losses(Sft("fp32"));
        var bf16Run = Sft("bf16", "--bf16");
        var bf16 = Losses(bf16Run);
        Assert.Equal(6, bf16.Length);
        Assert.Equal(fp32[0], bf16[0]);
        Assert.True(fp32[^1] < fp32[0] - 0.1, "the float32 run does not learn");
        Assert.NotEqual(fp32[1..], bf16[1..]);
        Assert.All(fp32.Zip(bf16), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-2 * p.First, $"bf16 loss {p.Second} vs float32 {p.First}"));
        Assert.Contains("\"bf16\": true", JsonNode.Parse(File.ReadAllText(Path.Combine(bf16Run, "config.json")))!["reins_run_settings"]!.ToJsonString(new() { WriteIndented = true }));
    }
}
