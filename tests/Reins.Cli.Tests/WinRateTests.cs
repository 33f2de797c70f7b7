using System.CommandLine;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Reins.Cli.Commands;

namespace Reins.Cli.Tests;

/// <summary>
/// `reins eval winrate` against a reference file, judged by a stub endpoint on 127.0.0.1 that prefers the longer response
/// (by 0.35) with a position bias (0.1 to whichever is shown first): the reported win-rate must be the mean of what the
/// stub's rule gives each pair once both orders are combined, whatever the tiny model happens to write.
/// </summary>
public sealed class WinRateTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), $"reins-winrate-{Guid.NewGuid():N}");

    public WinRateTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static int Run(params string[] args) =>
        new RootCommand { ModelCommand.Create(), EvalCommand.Create() }.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });

    [Fact]
    public async Task TheWinRateIsTheMeanOfTheJudgesCombinedVerdicts()
    {
        int asked = 0;
        var (stub, endpoint) = await StubEndpoint.StartAsync(async context =>
        {
            Interlocked.Increment(ref asked);
            var body = (await JsonNode.ParseAsync(context.Request.Body))!;
            string user = body["messages"]![1]!["content"]!.GetValue<string>();
            double pa = PreferA(Between(user, "Response (a):\n", "\n\nResponse (b):"), Between(user, "Response (b):\n", "\n\nWhich"));
            var top = new JsonArray(new JsonObject { ["token"] = "a", ["logprob"] = Math.Log(pa), ["bytes"] = new JsonArray() },
                new JsonObject { ["token"] = "b", ["logprob"] = Math.Log(1 - pa), ["bytes"] = new JsonArray() });
            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = "x", ["object"] = "chat.completion", ["created"] = 0, ["model"] = "stub",
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0, ["finish_reason"] = "stop", ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = pa >= 0.5 ? "a" : "b" },
                    ["logprobs"] = new JsonObject { ["content"] = new JsonArray(new JsonObject { ["token"] = "a", ["logprob"] = Math.Log(pa), ["bytes"] = new JsonArray(), ["top_logprobs"] = top }) },
                }),
            });
        });
        await using var _ = stub;

        string model = Path.Combine(dir, "m"), prompts = Path.Combine(dir, "prompts.jsonl"), reference = Path.Combine(dir, "reference.jsonl"), output = Path.Combine(dir, "eval");
        Assert.Equal(0, Run("model", "init", "--arch", "gpt2", "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "5", "--out", model));
        File.WriteAllLines(prompts, Enumerable.Range(0, 6).Select(i => $$"""{"prompt":"question {{i}}:"}"""));
        // References shorter, longer and as long as the model's 8-token answers can be, so that all three verdicts occur.
        File.WriteAllLines(reference, Enumerable.Range(0, 6).Select(i => $$"""{"completion":"{{new string('r', i switch { 0 or 1 => 0, 2 or 3 => 60, _ => 1 })}}"}"""));
        Assert.Equal(0, Run("eval", "winrate", "--model", model, "--reference", reference, "--prompts", prompts, "--out", output, "--max-new-tokens", "8",
            "--judge-endpoint", endpoint.ToString(), "--judge-model", "stub"));

        var rows = File.ReadAllLines(Path.Combine(output, "outputs.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(6, rows.Count);
        // Each pair's P(model better) from the stub's rule, both orders: (P(a | model first) + 1 − P(a | model second)) / 2.
        var expected = rows.Select(r =>
        {
            string m = r["output"]!.GetValue<string>(), b = r["reference_output"]!.GetValue<string>();
            return (PreferA(m, b) + 1 - PreferA(b, m)) / 2;
        }).ToList();
        Assert.True(expected.Distinct().Count() >= 2, "the pairs should not all get the same verdict");
        Assert.All(rows.Zip(expected), p => Assert.Equal(p.Second, p.First["judge_probability"]!.GetValue<double>(), 1e-5));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "winrate.json")))!;
        Assert.Equal(Math.Round(expected.Average(), 4), summary["win_rate"]!.GetValue<double>(), 1e-4);
        var ci = summary["win_rate_ci"]!.AsArray().Select(x => x!.GetValue<double>()).ToList();
        Assert.True(ci[0] <= summary["win_rate"]!.GetValue<double>() && summary["win_rate"]!.GetValue<double>() <= ci[1]);
        Assert.InRange(summary["length_controlled_win_rate"]!.GetValue<double>(), 0, 1);
        Assert.Equal(12, asked);
        Assert.Equal(12, summary["judge_requests"]!.GetValue<int>());
        Assert.Contains("question 3:", File.ReadAllText(Path.Combine(output, "winrate.html")));

        // A rerun asks the judge nothing: every answer is in the cache beside the results.
        Assert.Equal(0, Run("eval", "winrate", "--model", model, "--reference", reference, "--prompts", prompts, "--out", output, "--max-new-tokens", "8",
            "--judge-endpoint", endpoint.ToString(), "--judge-model", "stub"));
        Assert.Equal(12, asked);
    }

    [Fact]
    public void SimulatedEvaluatorsOfAFarmTaskPreferTheCorrectAnswers()
    {
        // arithmetic's gold is exact match: a reference of correct answers against a random tiny model's text must win
        // nearly every prompt, and a reference identical to the model's own outputs ties every prompt.
        string model = Path.Combine(dir, "m"), prompts = Path.Combine(dir, "sums.jsonl"), reference = Path.Combine(dir, "answers.jsonl");
        Assert.Equal(0, Run("model", "init", "--arch", "gpt2", "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "5", "--out", model));
        var sums = Enumerable.Range(0, 40).Select(i => (Text: $"{10 + i}+{3 * i}-7=", Answer: 10 + i + 3 * i - 7)).ToList();
        File.WriteAllLines(prompts, sums.Select(s => $$"""{"prompt":"{{s.Text}}"}"""));
        File.WriteAllLines(reference, sums.Select(s => $$"""{"completion":"{{s.Answer}}"}"""));
        string[] common = ["--model", model, "--prompts", prompts, "--max-new-tokens", "6", "--annotators", "simulated", "--task", "arithmetic"];
        Assert.Equal(0, Run(["eval", "winrate", .. common, "--reference", reference, "--out", Path.Combine(dir, "vs-answers")]));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "vs-answers", "winrate.json")))!;
        Assert.Equal("simulated:arithmetic", summary["judge"]!.GetValue<string>());
        Assert.InRange(summary["win_rate"]!.GetValue<double>(), 0, 0.1);

        string own = Path.Combine(dir, "own.jsonl");
        File.WriteAllLines(own, File.ReadAllLines(Path.Combine(dir, "vs-answers", "outputs.jsonl")).Select(l => new JsonObject { ["completion"] = JsonNode.Parse(l)!["output"]!.GetValue<string>() }.ToJsonString()));
        Assert.Equal(0, Run(["eval", "winrate", .. common, "--reference", own, "--out", Path.Combine(dir, "vs-self")]));
        Assert.Equal(0.5, JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "vs-self", "winrate.json")))!["win_rate"]!.GetValue<double>());
    }

    private static double PreferA(string a, string b) => 0.5 + 0.35 * Math.Sign(a.Length - b.Length) + 0.1;

    private static string Between(string text, string start, string end)
    {
        int from = text.IndexOf(start, StringComparison.Ordinal) + start.Length;
        return text[from..text.IndexOf(end, from, StringComparison.Ordinal)];
    }
}
