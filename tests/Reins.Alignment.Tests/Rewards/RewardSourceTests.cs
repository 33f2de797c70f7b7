using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Tests.Rewards;

/// <summary>The verifiable reward functions, the weighted sum, and the external program and HTTP sources end to end.</summary>
public class RewardSourceTests
{
    private static ScoringRequest Request(string completion, object? answer = null, bool finished = true, string prompt = "Q: ") => new(prompt, completion, [1, 2], [3, 4], finished,
        answer is null ? new Dictionary<string, JsonElement>() : new Dictionary<string, JsonElement> { ["answer"] = JsonSerializer.SerializeToElement(answer), ["level"] = JsonSerializer.SerializeToElement(3) });

    private static float Score(string spec, ScoringRequest request) => VerifiableRewards.Create(spec).Score([request])[0];

    [Theory]
    [InlineData("<think>6 times 7</think> <answer>42</answer>", "42", 1)]
    [InlineData("so \\boxed{\\frac{1}{2}} it is", "\\frac{1}{2}", 1)]
    [InlineData("reasoning…\n#### 1,234", "1234", 1)]
    [InlineData("42.0", "42", 1)]
    [InlineData("41", "42", 0)]
    [InlineData("<answer>Paris</answer>", "paris", 0)]
    public void ExactMatchComparesTheExtractedAnswer(string completion, string answer, float expected) =>
        Assert.Equal(expected, Score("exact_match", Request(completion, answer)));

    [Fact]
    public void FunctionsReadRecordFieldsAndNameMissingOnes()
    {
        Assert.Equal(1, Score("exact_match", Request("#### 7", 7)));     // a numeric JSON field
        Assert.Equal(1, Score("contains", Request("the capital is Paris.", "Paris")));
        Assert.Equal(0, Score("contains:Rome", Request("the capital is Paris.", "Paris")));
        var missing = Assert.Throws<InvalidDataException>(() => Score("exact_match", Request("42")));
        Assert.Contains("\"answer\"", missing.Message);
    }

    [Fact]
    public void LengthAndFormatChecks()
    {
        Assert.Equal(1, Score("length:10", Request("0123456789")));
        Assert.Equal(0.5f, Score("length:10", Request("01234")));
        Assert.Equal(0, Score("length:10", Request(new string('x', 30))));
        Assert.Equal(1, Score("format", Request("<think>a\nb</think>\n<answer>c</answer>")));
        Assert.Equal(0, Score("format", Request("<answer>c</answer>")));
        Assert.Equal(1, Score("format:^[0-9]+$", Request("123")));
        Assert.Contains("exact_match", Assert.Throws<ArgumentException>(() => VerifiableRewards.Create("exactmatch")).Message);
        Assert.Contains("length:200", Assert.Throws<ArgumentException>(() => VerifiableRewards.Create("length")).Message);
    }

    [Fact]
    public void WeightedSumSkipsSourcesThatDoNotApply()
    {
        var a = new FunctionRewardSource("a", r => r.Completion.Length);
        var b = new FunctionRewardSource("b", r => r.Completion == "xy" ? float.NaN : 10);
        var sum = new WeightedRewardSum([(a, 1f), (b, 0.5f)]);
        var (total, parts) = sum.ScoreEach([Request("x"), Request("xy")]);
        Assert.Equal([1 + 5f, 2], total);
        Assert.Equal(["a", "b"], parts.Select(p => p.Name));
        Assert.True(float.IsNaN(parts[1].Scores[1]));
        Assert.Contains("'a'", Assert.Throws<ArgumentException>(() => new WeightedRewardSum([(a, 1f), (a, 2f)])).Message);
    }

    [Fact]
    public void RequestJsonCarriesEveryRecordField()
    {
        var json = ScoringRequestJson.ToJson(Request("done", "42"));
        Assert.Equal("42", json["answer"]!.GetValue<string>());
        Assert.Equal(3, json["level"]!.GetValue<int>());
        Assert.Equal("done", json["completion"]!.GetValue<string>());
        Assert.True(json["finished"]!.GetValue<bool>());
        Assert.Equal([3, 4], json["completion_ids"]!.AsArray().Select(x => x!.GetValue<int>()));
    }

    [Fact]
    public void CommandSourceSpeaksJsonLinesAndStaysUp()
    {
        if (OperatingSystem.IsWindows()) return;
        // Reads each request line; 1 when the record's answer field is "42", else an object reply; "count" shows it is one process.
        const string script = """n=0; while IFS= read -r line; do n=$((n+1)); case "$line" in *'"answer":"42"'*) echo 1;; *) echo "{\"reward\": $n}";; esac; done""";
        using var source = new CommandRewardSource(script, "script");
        Assert.Equal([1f, 2f], source.Score([Request("a", "42"), Request("b", "7")]));
        Assert.Equal([3f], source.Score([Request("c", "8")]));
        using var failing = new CommandRewardSource("read line; exit 3");
        Assert.Contains("code 3", Assert.Throws<InvalidDataException>(() => failing.Score([Request("a"), Request("b")])).Message);
        using var garbled = new CommandRewardSource("while read line; do echo nope; done");
        Assert.Contains("not JSON", Assert.Throws<InvalidDataException>(() => garbled.Score([Request("a")])).Message);
    }

    [Fact]
    public async Task HttpSourceSpeaksOpenRlhfsProtocol()
    {
        int port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        JsonObject? received = null;
        var server = Task.Run(() =>
        {
            foreach (string reply in new[] { """{"rewards": [0.5, -1]}""", """{"rewards": [1]}""" })
            {
                var context = listener.GetContext();
                using (var reader = new StreamReader(context.Request.InputStream)) received ??= JsonNode.Parse(reader.ReadToEnd())!.AsObject();
                var bytes = Encoding.UTF8.GetBytes(reply);
                context.Response.ContentType = "application/json";
                context.Response.OutputStream.Write(bytes);
                context.Response.Close();
            }
        });
        var source = new HttpRewardSource(new Uri($"http://127.0.0.1:{port}/score"));
        Assert.Equal([0.5f, -1f], source.Score([Request("a", "42"), Request("b")]));
        Assert.Equal(["Q: a", "Q: b"], received!["query"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.Equal("42", received["labels"]![0]!.GetValue<string>());
        Assert.Null(received["labels"]![1]);
        Assert.Equal(3, received["records"]![0]!["level"]!.GetValue<int>());
        Assert.Contains("1 rewards for 2", Assert.Throws<InvalidDataException>(() => source.Score([Request("a"), Request("b")])).Message);
        await server;
    }

    [Fact]
    public void ACommandThatNeverAnswersTimesOutNamingItselfAndIsStopped()
    {
        if (OperatingSystem.IsWindows()) return;
        using var silent = new CommandRewardSource("cat > /dev/null", "silent", TimeSpan.FromSeconds(1));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<TimeoutException>(() => silent.Score([Request("a"), Request("b")]));
        Assert.Contains("cat > /dev/null", e.Message);
        Assert.Contains("--reward-timeout", e.Message);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 30);
        // A stop while waiting ends the wait at once, as a cancellation.
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        using var slow = new CommandRewardSource("cat > /dev/null", "slow", TimeSpan.FromMinutes(10));
        Assert.ThrowsAny<OperationCanceledException>(() => slow.Score([Request("a")], stop.Token));
    }

    [Fact]
    public void AnEndpointThatNeverRepliesTimesOut()
    {
        // A server that accepts the connection and the request, and never answers.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var accepted = new CancellationTokenSource();
        var held = new List<TcpClient>();
        var server = Task.Run(async () =>
        {
            try { while (true) held.Add(await listener.AcceptTcpClientAsync(accepted.Token)); }
            catch (OperationCanceledException) { }
        });
        try
        {
            var source = new HttpRewardSource(new Uri($"http://127.0.0.1:{port}/score"), timeout: TimeSpan.FromSeconds(1));
            var e = Assert.Throws<TimeoutException>(() => source.Score([Request("a")]));
            Assert.Contains($"127.0.0.1:{port}", e.Message);
        }
        finally
        {
            accepted.Cancel();
            listener.Stop();
            held.ForEach(c => c.Dispose());
        }
    }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
