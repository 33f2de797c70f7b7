using System.ClientModel;
using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;
using Reins.Cli.Commands;
using Reins.Cli.Commands.Training;
using Reins.Cli.Serving;
using Reins.Models.Chat;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;

namespace Reins.Cli.Tests;

/// <summary>
/// `reins serve` on a tiny checkpoint, listening on 127.0.0.1: the OpenAI .NET client as the real client (chat,
/// streaming, log-probs), the legacy completions shape, OpenAI error bodies with the right status for each kind of
/// bad request, a bounded fuzz of malformed requests, the API key, the queue limit and the size limits.
/// </summary>
public sealed class ServeTests : IAsyncLifetime
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), $"reins-serve-{Guid.NewGuid():N}");
    private string model = "";

    public Task InitializeAsync()
    {
        model = Path.Combine(dir, "tiny");
        string[] args = ["model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "3", "--out", model];
        Assert.Equal(0, new RootCommand { ModelCommand.Create() }.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(dir, recursive: true);
        return Task.CompletedTask;
    }

    private Task<OpenAiServer> Start(Func<ServeSettings, ServeSettings>? adjust = null)
    {
        var settings = new ServeSettings(model) { Port = 0 };
        return OpenAiServer.StartAsync(adjust is null ? settings : adjust(settings));
    }

    private static ChatClient Client(OpenAiServer server, string key = "unused") =>
        new("tiny", new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(server.Address, "v1") });

    [Fact]
    public async Task TheOpenAiClientGetsWhatTheGeneratorProduces()
    {
        await using var server = await Start();
        Assert.Equal("127.0.0.1", server.Address.Host);
        var messages = new List<OpenAI.Chat.ChatMessage> { new SystemChatMessage("Be brief."), new UserChatMessage("hello there") };
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        ChatCompletion completion = (await Client(server).CompleteChatAsync(messages, options)).Value;

        // The same conversation through the checkpoint's chat template and the generator, in process.
        var (lm, tokenizer) = HfCheckpoint.LoadWithTokenizer(model);
        var prompt = ChatFormat.For(tokenizer).Encode(tokenizer, [Reins.Models.Chat.ChatMessage.System("Be brief."), Reins.Models.Chat.ChatMessage.User("hello there")], addGenerationPrompt: true).Ids;
        var expected = Generator.Generate(lm, [prompt], new SamplingOptions { Temperature = 0, MaxNewTokens = 6, StopTokenIds = [tokenizer.EosId!.Value] })[0];
        Assert.Equal(tokenizer.Decode(expected.Tokens, skipSpecialTokens: true), completion.Content[0].Text);
        Assert.Equal(expected.FinishReason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(prompt.Length, completion.Usage.InputTokenCount);
        Assert.Equal(expected.Tokens.Length, completion.Usage.OutputTokenCount);
        Assert.Equal(expected.LogProbs, completion.ContentTokenLogProbabilities.Select(t => t.LogProbability));
        foreach (var (token, i) in completion.ContentTokenLogProbabilities.Select((t, i) => (t, i)))
        {
            Assert.Equal(3, token.TopLogProbabilities.Count);
            Assert.True(token.TopLogProbabilities.Zip(token.TopLogProbabilities.Skip(1)).All(p => p.First.LogProbability >= p.Second.LogProbability));
            // Greedy: the chosen token is the most likely one.
            Assert.Equal(token.LogProbability, token.TopLogProbabilities[0].LogProbability);
            Assert.Equal(tokenizer.Decode([expected.Tokens[i]]), token.Token);
            // The bytes are the token's own (a token holding part of a character gives that part, not U+FFFD's).
            Assert.Equal(tokenizer.TokenBytes(expected.Tokens[i]), token.Utf8Bytes!.Value.ToArray());
        }
        Assert.Equal(expected.Tokens.SelectMany(tokenizer.TokenBytes).ToArray(), completion.ContentTokenLogProbabilities.SelectMany(t => t.Utf8Bytes!.Value.ToArray()).ToArray());

        // Streaming gives the same text, in pieces, and ends with the finish reason.
        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in Client(server).CompleteChatStreamingAsync(messages, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6 }))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(completion.Content[0].Text, streamed.ToString());
        Assert.Equal(completion.FinishReason, finish);
    }

    [Fact]
    public async Task SeededSamplesRepeatAndStopStringsCutTheText()
    {
        await using var server = await Start();
        using var http = new HttpClient { BaseAddress = server.Address };
        string body = """{"model":"tiny","prompt":["ab","hello"],"n":2,"max_tokens":12,"seed":7,"temperature":1,"logprobs":2}""";
        var first = await PostJson(http, "/v1/completions", body);
        var second = await PostJson(http, "/v1/completions", body);
        Assert.Equal(first["choices"]!.ToJsonString(), second["choices"]!.ToJsonString());
        var choices = first["choices"]!.AsArray();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c!["index"]!.GetValue<int>()));
        foreach (var choice in choices)
        {
            var logprobs = choice!["logprobs"]!;
            int count = logprobs["tokens"]!.AsArray().Count;
            Assert.Equal(count, logprobs["token_logprobs"]!.AsArray().Count);
            Assert.Equal(count, logprobs["text_offset"]!.AsArray().Count);
            Assert.All(logprobs["top_logprobs"]!.AsArray(), t => Assert.InRange(t!.AsObject().Count, 1, 2));
        }
        Assert.Equal(first["usage"]!["completion_tokens"]!.GetValue<int>(), choices.Sum(c => c!["logprobs"]!["tokens"]!.AsArray().Count));

        // A stop string taken from the text just sampled ends the sample there, without the stop string.
        string text = choices[0]!["text"]!.GetValue<string>();
        Assert.True(text.Length >= 4, $"sampled text too short to cut: '{text}'");
        string stop = text.Substring(2, 2);
        var cut = await PostJson(http, "/v1/completions", $$"""{"model":"tiny","prompt":"ab","max_tokens":12,"seed":7,"stop":{{JsonValue.Create(stop).ToJsonString()}}}""");
        string cutText = cut["choices"]![0]!["text"]!.GetValue<string>();
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], cutText);
        Assert.Equal("stop", cut["choices"]![0]!["finish_reason"]!.GetValue<string>());
    }

    public static TheoryData<string, string, int, string?> BadRequests() => new()
    {
        { "/v1/chat/completions", "not json at all", 400, null },
        { "/v1/chat/completions", "[1, 2]", 400, null },
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":"x"}]}""", 400, "model" },
        { "/v1/chat/completions", """{"model":"tiny"}""", 400, "messages" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[]}""", 400, "messages" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"wizard","content":"x"}]}""", 400, "messages[0].role" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":5}]}""", 400, "messages[0].content" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url"}]}]}""", 400, "messages[0].content[0].type" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":-1}""", 400, "max_tokens" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":"5"}""", 400, "max_tokens" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":1000}""", 400, "max_tokens" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"temperature":3}""", 400, "temperature" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"top_logprobs":2}""", 400, "top_logprobs" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"n":0}""", 400, "n" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"stop":[1]}""", 400, "stop" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"tools":[{}]}""", 400, "tools" },
        { "/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"bogus":1}""", 400, "bogus" },
        { "/v1/chat/completions", """{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}""", 404, "model" },
        { "/v1/completions", """{"model":"tiny","prompt":""}""", 400, "prompt" },
        { "/v1/completions", """{"model":"tiny","prompt":"x","logprobs":6}""", 400, "logprobs" },
        { "/v1/completions", """{"model":"tiny","prompt":"x","echo":true,"stream":true}""", 400, "echo" },
        { "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + new string('a', 200) + "\"}", 413, "messages" },
        { "/v1/embeddings", """{"model":"tiny","input":"x"}""", 404, null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task ABadRequestGetsOpenAisErrorBodyWithTheFieldNamed(string path, string body, int status, string? param)
    {
        await using var server = await Start();
        using var http = new HttpClient { BaseAddress = server.Address };
        using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(status, (int)response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.False(string.IsNullOrWhiteSpace(error["message"]!.GetValue<string>()));
        Assert.NotNull(error["type"]);
        Assert.Equal(param, error["param"]?.GetValue<string>());
    }

    [Fact]
    public async Task AThousandMalformedRequestsEachGetA4xxAndTheServerKeepsServing()
    {
        await using var server = await Start(s => s with { MaxRequestBytes = 64 << 10 });
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        var rng = new Random(1234);
        string[] valid =
        [
            """{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"temperature":0.5,"top_p":0.9,"stop":["x"],"n":1}""",
            """{"model":"tiny","prompt":["ab","c"],"max_tokens":2,"logprobs":1,"echo":false}""",
        ];
        string[] paths = ["/v1/chat/completions", "/v1/completions"];
        string[] junk = ["null", "-1", "1e999", "\"\"", "[]", "{}", "true", "\"\\ud800\"", "[[[[[[[[]]]]]]]]", "9223372036854775808", "0.5", "\"tiny\"", "{\"role\":\"x\"}"];
        int answered = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        for (int i = 0; i < 1000 && DateTime.UtcNow < deadline; i++)
        {
            int which = rng.Next(2);
            string body = valid[which];
            var kind = rng.Next(6);
            body = kind switch
            {
                0 => body[..rng.Next(body.Length)],                                              // cut off
                1 => body.Insert(rng.Next(body.Length), ((char)rng.Next(32, 127)).ToString()),   // a stray character
                2 => ReplaceValue(body, rng, junk),                                              // a field of the wrong type or range
                3 => body.Replace("\"model\":\"tiny\"", "\"model\":" + junk[rng.Next(junk.Length)]),
                4 => new string('{', rng.Next(1, 200)),                                          // nesting
                _ => Convert.ToBase64String(Enumerable.Range(0, rng.Next(1, 64)).Select(_ => (byte)rng.Next(256)).ToArray()),
            };
            using var request = new HttpRequestMessage(HttpMethod.Post, paths[which]) { Content = new StringContent(body, Encoding.UTF8, rng.Next(4) == 0 ? "text/plain" : "application/json") };
            if (rng.Next(10) == 0) request.Headers.TryAddWithoutValidation("Authorization", "Bearer \u0001garbage");
            using var response = await http.SendAsync(request);
            int status = (int)response.StatusCode;
            string text = await response.Content.ReadAsStringAsync();
            if (status == 200) continue; // a mutation that left the request valid
            Assert.True(status is >= 400 and < 500, $"request {i} ({body}) got {status}: {text}");
            Assert.False(string.IsNullOrWhiteSpace(JsonNode.Parse(text)!["error"]!["message"]!.GetValue<string>()), $"request {i}: no reason given");
            answered++;
        }
        Assert.True(answered >= 800, $"only {answered} of the mutations were refused");
        var ok = await PostJson(http, "/v1/completions", """{"model":"tiny","prompt":"ab","max_tokens":2}""");
        Assert.Single(ok["choices"]!.AsArray());

        static string ReplaceValue(string body, Random rng, string[] junk)
        {
            var node = JsonNode.Parse(body)!.AsObject();
            var keys = node.Select(p => p.Key).ToList();
            node[keys[rng.Next(keys.Count)]] = "\u0000junk";
            return node.ToJsonString().Replace("\"\\u0000junk\"", junk[rng.Next(junk.Length)]);
        }
    }

    [Fact]
    public async Task WithAKeyEveryRequestWithoutItIsRefused()
    {
        await using var server = await Start(s => s with { ApiKey = "s3cret" });
        using var http = new HttpClient { BaseAddress = server.Address };
        foreach (var header in new string?[] { null, "Bearer wrong", "s3cret", "Bearer s3cre", "Bearer s3cret2" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
            if (header is not null) request.Headers.TryAddWithoutValidation("Authorization", header);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_api_key", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
        }
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
        var models = JsonNode.Parse(await http.GetStringAsync("/v1/models"))!;
        Assert.Equal("tiny", models["data"]![0]!["id"]!.GetValue<string>());
        var chat = (await Client(server, "s3cret").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 })).Value;
        Assert.NotNull(chat.Content);
        await Assert.ThrowsAsync<ClientResultException>(() => Client(server, "nope").CompleteChatAsync([new UserChatMessage("hi")]));
    }

    [Fact]
    public async Task AFullQueueAnswers429AndATooLargeBody413()
    {
        await using var server = await Start(s => s with { QueueLimit = 1, MaxRequestBytes = 2000 });
        using var http = new HttpClient { BaseAddress = server.Address };
        // Two prompts in one request need two places in a queue of one: refused whole, before anything runs.
        using var busy = await http.PostAsync("/v1/completions", new StringContent("""{"model":"tiny","prompt":["a","b"],"max_tokens":2}"""));
        Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
        Assert.Equal("rate_limit_exceeded", JsonNode.Parse(await busy.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
        using var large = await http.PostAsync("/v1/completions", new StringContent($$"""{"model":"tiny","prompt":"{{new string('a', 5000)}}"}"""));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
        Assert.Equal("request_too_large", JsonNode.Parse(await large.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
        var one = await PostJson(http, "/v1/completions", """{"model":"tiny","prompt":"a","max_tokens":2}""");
        Assert.Single(one["choices"]!.AsArray());
    }

    [Fact]
    public async Task ReinsJudgeLabelsPairsThroughAServedModel()
    {
        // The judge of `reins judge` talking to `reins serve` end to end: every pair asked in both orders, each answer
        // read as a soft label, a parsed letter or a counted non-answer. The judge's prompt needs a longer context.
        string judgeModel = Path.Combine(dir, "judge-model");
        string[] init = ["model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "4", "--max-positions", "1024", "--seed", "4", "--out", judgeModel];
        Assert.Equal(0, new RootCommand { ModelCommand.Create() }.Parse(init).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        await using var server = await OpenAiServer.StartAsync(new ServeSettings(judgeModel) { Port = 0, ServedModelName = "tiny" });
        string input = Path.Combine(dir, "pairs.jsonl"), output = Path.Combine(dir, "labelled.jsonl");
        File.WriteAllText(input, """
            {"prompt":"Say hi.","completions":["hi","hello there"],"id":1}
            {"prompt":"Count to two.","chosen":"1 2","rejected":"one"}
            """);
        string[] args = ["judge", "--input", input, "--output", output, "--endpoint", new Uri(server.Address, "v1").ToString(), "--model", "tiny", "--price-input", "2", "--price-output", "8"];
        var printed = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(printed);
        try { Assert.Equal(0, new RootCommand { JudgeCommand.Create() }.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false })); }
        finally { Console.SetOut(previous); }
        var summary = JsonNode.Parse(printed.ToString())!;
        Assert.Equal(4, summary["requests"]!.GetValue<int>());
        // The cost at the prices given: tokens per million times price.
        double cost = (summary["prompt_tokens"]!.GetValue<long>() * 2.0 + summary["completion_tokens"]!.GetValue<long>() * 8.0) / 1e6;
        Assert.True(cost > 0);
        Assert.Equal(Math.Round(cost, 6), summary["cost"]!.GetValue<double>());
        Assert.Equal(4, summary["soft_labels"]!.GetValue<int>() + summary["parsed_verdicts"]!.GetValue<int>() + summary["unparsed_answers"]!.GetValue<int>());
        var records = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(2, records.Count);
        Assert.Equal(1, records[0]!["id"]!.GetValue<int>());
        Assert.Equal(["hello there", "hi"], new[] { records[0]!["chosen"]!.GetValue<string>(), records[0]!["rejected"]!.GetValue<string>() }.Order(StringComparer.Ordinal));
        Assert.All(records, r => Assert.InRange(r!["judge_probability"]!.GetValue<double>(), 0.5, 1.0));
        Assert.True(File.Exists(output + ".judge-cache.sqlite"));

        // Pointwise: every response gets a rating on the scale, or null, counted.
        string rated = Path.Combine(dir, "rated.jsonl");
        File.WriteAllText(input, "{\"prompt\":\"Say hi.\",\"response\":\"hi\"}\n{\"prompt\":\"Count.\",\"completion\":\"1 2 3\"}\n");
        printed = new StringWriter();
        Console.SetOut(printed);
        try { Assert.Equal(0, new RootCommand { JudgeCommand.Create() }.Parse([.. args[..1], "--pointwise", "score", "--input", input, "--output", rated, .. args[5..]]).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false })); }
        finally { Console.SetOut(previous); }
        var ratings = JsonNode.Parse(printed.ToString())!;
        Assert.Equal(2, ratings["ratings"]!.GetValue<int>());
        Assert.Equal(2, ratings["soft_ratings"]!.GetValue<int>() + ratings["parsed_ratings"]!.GetValue<int>() + ratings["unrated"]!.GetValue<int>());
        Assert.All(File.ReadAllLines(rated), l => Assert.True(JsonNode.Parse(l)!.AsObject().ContainsKey("score")));
    }

    [Fact]
    public async Task AServedRewardModelScoresWhatTheLocalOneScores()
    {
        // reins serve --reward-model on OpenRLHF's protocol, read by the same client --reward-url uses.
        string train = Path.Combine(dir, "prefs.jsonl"), rm = Path.Combine(dir, "rm");
        File.WriteAllLines(train, Enumerable.Range(0, 8).Select(i => $$"""{"prompt":"q{{i}}","chosen":"a good answer {{i}}","rejected":"bad"}"""));
        string[] args = ["rm", "--model", model, "--train", train, "--max-steps", "2", "--max-length", "64", "--out", rm, "--threads", "1"];
        Assert.Equal(0, new RootCommand { RewardCommand.Create() }.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        await using var server = await RewardModelServer.StartAsync(new ServeSettings(rm) { Port = 0 });
        var requests = new[] { ("q1", "a good answer"), ("q2", "bad"), ("", "no prompt at all") }
            .Select(p => new Reins.Rewards.Sources.ScoringRequest(p.Item1, p.Item2, [], [], true, new Dictionary<string, System.Text.Json.JsonElement>())).ToList();
        var remote = new Reins.Rewards.Sources.HttpRewardSource(new Uri(server.Address, "get_reward")).Score(requests);
        var loaded = Reins.Rewards.RewardModels.RewardModel.Load(rm);
        var local = new Reins.Rewards.Sources.RewardModelSource(loaded, new Reins.Feedback.Tokenization.TokenizerEncoder(loaded.TokenizerFrom(rm))).Score(requests);
        Assert.Equal(local, remote);
        Assert.NotEqual(remote[0], remote[1]);

        using var http = new HttpClient { BaseAddress = server.Address };
        using var bad = await http.PostAsync("/get_reward", new StringContent("""{"query":["a","b"],"prompts":["a"]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("prompts", JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["error"]!["param"]!.GetValue<string>());
        using var missing = await http.PostAsync("/get_reward", new StringContent("""{"labels":[]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
    }

    [Fact]
    public async Task StoppingLetsAStreamInFlightFinishAndRefusesNewRequests()
    {
        // A wider model, so that 48 tokens take long enough for the stop to land while the stream runs.
        string wide = Path.Combine(dir, "wide");
        string[] init = ["model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "256", "--layers", "4", "--heads", "4", "--max-positions", "128", "--seed", "3", "--out", wide];
        Assert.Equal(0, new RootCommand { ModelCommand.Create() }.Parse(init).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        var server = await OpenAiServer.StartAsync(new ServeSettings(wide) { Port = 0, ServedModelName = "tiny" });
        using var http = new HttpClient { BaseAddress = server.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("""{"model":"tiny","prompt":"once upon a time","max_tokens":48,"temperature":0,"stream":true}""", Encoding.UTF8, "application/json"),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<string> { (await reader.ReadLineAsync())! };     // the stream has started
        var stopping = server.DisposeAsync().AsTask();
        while (await reader.ReadLineAsync() is { } line) if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line);
        await stopping;
        Assert.Equal("data: [DONE]", events[^1]);
        var last = JsonNode.Parse(events[^2]["data: ".Length..])!;
        Assert.Equal("length", last["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(48, events.Count - 1);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/v1/models"));
    }

    private static async Task<JsonNode> PostJson(HttpClient http, string path, string body)
    {
        using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }
}
