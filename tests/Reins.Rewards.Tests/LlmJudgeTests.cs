using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Reins.Rewards.Judges;

namespace Reins.Rewards.Tests;

/// <summary>
/// The LLM judge against a stub OpenAI endpoint on 127.0.0.1 whose preferences are known: it prefers the longer
/// response by 0.35 and adds 0.1 to whichever response is shown first (a known position bias).
/// </summary>
public sealed class LlmJudgeTests : IAsyncLifetime
{
    private WebApplication stub = null!;
    private Uri endpoint = null!;
    private int served;
    private int failuresLeft;
    private bool withLogProbs = true;
    private string? fixedAnswer;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        stub = builder.Build();
        stub.MapPost("/v1/chat/completions", Answer);
        await stub.StartAsync();
        endpoint = new Uri(new Uri(stub.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/"), "v1");
    }

    public async Task DisposeAsync() => await stub.DisposeAsync();

    private async Task Answer(HttpContext context)
    {
        if (Interlocked.Decrement(ref failuresLeft) >= 0)
        {
            context.Response.StatusCode = failuresLeft % 2 == 0 ? 503 : 429;
            context.Response.Headers.RetryAfter = "0";
            return;
        }
        Interlocked.Increment(ref served);
        var body = (await JsonNode.ParseAsync(context.Request.Body))!;
        string user = body["messages"]![1]!["content"]!.GetValue<string>();
        if (body["messages"]![0]!["content"]!.GetValue<string>().StartsWith("You rate one response", StringComparison.Ordinal))
        {
            await Rate(context, body, user);
            return;
        }
        string a = Between(user, "Response (a):\n", "\n\nResponse (b):"), b = Between(user, "Response (b):\n", "\n\nWhich");
        double pa = 0.5 + 0.35 * Math.Sign(a.Length - b.Length) + 0.1;
        bool logprobs = withLogProbs && body["logprobs"]?.GetValue<bool>() == true;
        var answer = new JsonObject
        {
            ["id"] = "x", ["object"] = "chat.completion", ["created"] = 0, ["model"] = body["model"]!.GetValue<string>(),
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0, ["finish_reason"] = "stop",
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = fixedAnswer ?? (pa >= 0.5 ? "a" : "b") },
                ["logprobs"] = logprobs ? new JsonObject
                {
                    ["content"] = new JsonArray(new JsonObject
                    {
                        ["token"] = pa >= 0.5 ? "a" : "b", ["logprob"] = Math.Log(Math.Max(pa, 1 - pa)), ["bytes"] = new JsonArray(),
                        ["top_logprobs"] = new JsonArray(
                            new JsonObject { ["token"] = "a", ["logprob"] = Math.Log(pa), ["bytes"] = new JsonArray() },
                            new JsonObject { ["token"] = " b", ["logprob"] = Math.Log(1 - pa), ["bytes"] = new JsonArray() },
                            new JsonObject { ["token"] = "The", ["logprob"] = -20.0, ["bytes"] = new JsonArray() }),
                    }),
                } : null,
            }),
            ["usage"] = new JsonObject { ["prompt_tokens"] = 10, ["completion_tokens"] = 1, ["total_tokens"] = 11 },
        };
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer.ToJsonString());
    }

    // Pointwise: the rating is the response's length mod 5, with 0.6 of the probability on it and 0.4 on the next value.
    private async Task Rate(HttpContext context, JsonNode body, string user)
    {
        int r = Between(user, "Response:\n", "\n\nRate").Length % 5, next = (r + 1) % 5;
        bool logprobs = withLogProbs && body["logprobs"]?.GetValue<bool>() == true;
        var answer = new JsonObject
        {
            ["id"] = "x", ["object"] = "chat.completion", ["created"] = 0, ["model"] = "stub",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0, ["finish_reason"] = "stop",
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = fixedAnswer ?? $"{r}" },
                ["logprobs"] = logprobs ? new JsonObject
                {
                    ["content"] = new JsonArray(new JsonObject
                    {
                        ["token"] = $"{r}", ["logprob"] = Math.Log(0.6), ["bytes"] = new JsonArray(),
                        ["top_logprobs"] = new JsonArray(
                            new JsonObject { ["token"] = $"{r}", ["logprob"] = Math.Log(0.6), ["bytes"] = new JsonArray() },
                            new JsonObject { ["token"] = $" {next}", ["logprob"] = Math.Log(0.4), ["bytes"] = new JsonArray() },
                            new JsonObject { ["token"] = "7", ["logprob"] = -9.0, ["bytes"] = new JsonArray() }),
                    }),
                } : null,
            }),
        };
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer.ToJsonString());
    }

    private static string Between(string text, string start, string end)
    {
        int from = text.IndexOf(start, StringComparison.Ordinal) + start.Length;
        return text[from..text.IndexOf(end, from, StringComparison.Ordinal)];
    }

    private static readonly (string, string, string)[] Pairs =
    [
        ("Explain rain.", "Water vapour condenses into droplets that fall.", "Clouds."),
        ("Explain drizzle.", "Clouds.", "Water vapour condenses into droplets that fall."),
        ("Name a colour.", "Blue.", "Teal."),
    ];

    private LlmPairwiseJudge Judge(string? cache = null) =>
        new(new LlmJudgeSettings(endpoint, "stub-judge") { CachePath = cache, MaxRetries = 4, Concurrency = 3 });

    [Fact]
    public async Task AskingInBothOrdersCancelsAKnownPositionBias()
    {
        using var judge = Judge();
        var p = await judge.JudgeAsync(Pairs);
        // One order alone would say 0.95, 0.25 and 0.6: the 0.1 for being shown first.
        Assert.Equal(0.85, p[0], 1e-5);
        Assert.Equal(0.15, p[1], 1e-5);
        Assert.Equal(0.5, p[2], 1e-5);
        Assert.Equal(new JudgeUsage(6, 0, 60, 6, 6, 0, 0), judge.Usage);
        Assert.Equal(6, served);
    }

    [Fact]
    public async Task WithoutLogProbsTheParsedVerdictsAreCombined()
    {
        withLogProbs = false;
        using var judge = Judge();
        var p = await judge.JudgeAsync(Pairs);
        // The biased judge says "a" both ways on the tied pair: a tie once combined.
        Assert.Equal(new[] { 1f, 0f, 0.5f }, p);
        Assert.Equal(6, judge.Usage.ParsedVerdicts);
    }

    [Fact]
    public async Task AnAnswerThatIsNoVerdictIsATieAndCounted()
    {
        withLogProbs = false;
        fixedAnswer = "Both have merits.";
        using var judge = Judge();
        Assert.Equal(new[] { 0.5f, 0.5f, 0.5f }, await judge.JudgeAsync(Pairs));
        Assert.Equal(6, judge.Usage.Unparsed);
    }

    [Fact]
    public async Task ARerunAnswersFromTheCacheWithoutAsking()
    {
        string cache = Path.Combine(Path.GetTempPath(), $"reins-judge-{Guid.NewGuid():N}.sqlite");
        try
        {
            float[] first;
            using (var judge = Judge(cache)) first = await judge.JudgeAsync(Pairs);
            Assert.Equal(6, served);
            using (var again = Judge(cache))
            {
                Assert.Equal(first, await again.JudgeAsync(Pairs));
                Assert.Equal(6, again.Usage.CacheHits);
                Assert.Equal(0, again.Usage.Requests);
            }
            Assert.Equal(6, served);
            // Another model at the same endpoint is another key.
            using var other = new LlmPairwiseJudge(new LlmJudgeSettings(endpoint, "another-judge") { CachePath = cache });
            await other.JudgeAsync(Pairs);
            Assert.Equal(new JudgeUsage(6, 0, 60, 6, 6, 0, 0), other.Usage);
            Assert.Equal(12, served);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(cache) + "*")) File.Delete(f);
        }
    }

    [Fact]
    public async Task BusyAndFailingAnswersAreRetried()
    {
        failuresLeft = 3; // 429, 503, 429, then answers
        using var judge = Judge();
        var p = await judge.JudgeAsync(Pairs);
        Assert.Equal(0.85, p[0], 1e-5);
        Assert.Equal(6, served);
    }

    [Fact]
    public async Task APointwiseJudgeGivesTheExpectedRatingOrTheParsedOne()
    {
        var items = new[] { ("Explain rain.", "abc"), ("Explain rain.", "abcdefg"), ("Name a colour.", "") };
        using (var judge = new LlmPointwiseJudge(new LlmJudgeSettings(endpoint, "stub-judge"), RatingScale.HelpSteer2))
        {
            var ratings = await judge.RateAsync(items);
            // Lengths 3, 7, 0 → r = 3, 2, 0; expected 0.6·r + 0.4·((r + 1) mod 5); "7" is off the 0–4 scale and ignored.
            double[] expected = [0.6 * 3 + 0.4 * 4, 0.6 * 2 + 0.4 * 3, 0.6 * 0 + 0.4 * 1];
            for (int i = 0; i < items.Length; i++)
            {
                Assert.Equal(5, ratings[i].Length);
                Assert.All(ratings[i], v => Assert.Equal(expected[i], v, 1e-5));
            }
            Assert.Equal(15, judge.Usage.SoftLabels);
        }
        withLogProbs = false;
        using (var judge = new LlmPointwiseJudge(new LlmJudgeSettings(endpoint, "stub-judge"), RatingScale.Score))
            Assert.Equal(new[] { 3.0, 2.0 }, (await judge.RateAsync(items[..2])).Select(r => r[0]));
        fixedAnswer = "I cannot say.";
        using (var judge = new LlmPointwiseJudge(new LlmJudgeSettings(endpoint, "stub-judge"), RatingScale.Score))
        {
            Assert.True(double.IsNaN((await judge.RateAsync([items[0]]))[0][0]));
            Assert.Equal(1, judge.Usage.Unparsed);
        }
    }

    [Fact]
    public async Task ATemplateFileNeedsItsThreeFields()
    {
        string path = Path.Combine(Path.GetTempPath(), $"reins-template-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllText(path, "Be fair.\n---\nQ: {instruction}\nResponse (a):\n{output_a}\n\nResponse (b):\n{output_b}\n\nWhich? a or b.");
            var template = JudgeTemplate.Load(path);
            Assert.Equal("Be fair.", template.System);
            using var judge = new LlmPairwiseJudge(new LlmJudgeSettings(endpoint, "stub-judge") { Template = template });
            Assert.Equal(0.85, (await judge.JudgeAsync(Pairs))[0], 1e-5);
            File.WriteAllText(path, "Be fair.\n---\nQ: {instruction} {output_a}");
            Assert.Contains("{output_b}", Assert.Throws<InvalidDataException>(() => JudgeTemplate.Load(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
