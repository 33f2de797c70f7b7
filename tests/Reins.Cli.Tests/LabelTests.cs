using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Reins.Cli.Commands;
using Reins.Cli.Labelling;

namespace Reins.Cli.Tests;

/// <summary>
/// `reins label`: the API in process (tokens, validation that writes nothing, idempotent submissions, overlap, check
/// items, agreement and exports), a label acknowledged before `kill -9` still there after a restart, and the real page
/// driven in Debian's Chromium.
/// </summary>
public sealed class LabelTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), $"reins-label-{Guid.NewGuid():N}");
    private readonly string project;

    public LabelTests()
    {
        Directory.CreateDirectory(dir);
        project = Path.Combine(dir, "project");
        string pairs = Path.Combine(dir, "pairs.jsonl");
        File.WriteAllLines(pairs,
        [
            """{"id":"p1","prompt":"Say hi","completions":["hi there","go away"]}""",
            """{"id":"p2","prompt":"2+2?","completions":["4","5"],"check":"a"}""",
            """{"id":"p3","prompt":"Name a fruit","chosen":"apple","rejected":"car"}""",
            """{"id":"p4","prompt":"Capital of France?","completions":["Lyon","Paris"]}""",
        ]);
        Assert.Equal(0, Run("label", "init", "--project", project, "--pairs", pairs, "--overlap", "2", "--attributes", "helpfulness,honesty"));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(dir, recursive: true);
    }

    private static int Run(params string[] args) =>
        new RootCommand { LabelCommand.Create(), ModelCommand.Create() }.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });

    private string Token(string name, bool admin = false)
    {
        using var store = new LabelStore(project);
        return store.AddAnnotator(name, admin);
    }

    private static HttpClient Client(Uri address, string? token)
    {
        var http = new HttpClient { BaseAddress = address };
        if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private static async Task<(int Status, JsonNode Body)> Post(HttpClient http, string path, string body)
    {
        using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task TheApiRefusesWithoutATokenAndBadInputWritesNothing()
    {
        string ann = Token("ann"), admin = Token("boss", admin: true);
        await using var server = await LabelServer.StartAsync(project, port: 0);
        using var anonymous = Client(server.Address, null);
        using var stranger = Client(server.Address, "0123456789abcdef");
        using var annotator = Client(server.Address, ann);
        foreach (var http in new[] { anonymous, stranger })
        {
            foreach (var path in new[] { "/api/next", "/api/admin/stats", "/api/admin/export", "/label", "/admin", "/label?token=nope" })
                Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(path)).StatusCode);
            Assert.Equal(401, (await Post(http, "/api/labels", """{"pair_id":"p1","choice":"left","idempotency_key":"k"}""")).Status);
        }
        Assert.Equal(HttpStatusCode.Forbidden, (await annotator.GetAsync("/api/admin/stats")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"/label?token={ann}")).StatusCode);

        var next = JsonNode.Parse(await annotator.GetStringAsync("/api/next"))!;
        string pair = next["pair_id"]!.GetValue<string>();
        var bad = new (string Body, string Param)[]
        {
            ("""{"pair_id":"nope","choice":"left","idempotency_key":"k1"}""", "pair_id"),
            ($$"""{"pair_id":"{{(pair == "p4" ? "p3" : "p4")}}","choice":"left","idempotency_key":"k1"}""", "pair_id"),   // real, but never given to this annotator
            ($$"""{"pair_id":"{{pair}}","choice":"up","idempotency_key":"k1"}""", "choice"),
            ($$"""{"pair_id":"{{pair}}","choice":"left","ratings":{"helpfulness":8},"idempotency_key":"k1"}""", "ratings.helpfulness"),
            ($$"""{"pair_id":"{{pair}}","choice":"left","ratings":{"charm":3},"idempotency_key":"k1"}""", "ratings.charm"),
            ($$"""{"pair_id":"{{pair}}","choice":"left","reason":"{{new string('x', 2001)}}","idempotency_key":"k1"}""", "reason"),
            ($$"""{"pair_id":"{{pair}}","choice":"left"}""", "idempotency_key"),
        };
        foreach (var (body, param) in bad)
        {
            var (status, error) = await Post(annotator, "/api/labels", body);
            Assert.Equal(400, status);
            Assert.Equal(param, error["error"]!["param"]!.GetValue<string>());
        }
        using (var store = new LabelStore(project)) Assert.Empty(store.Labels());

        // A double click: the same key twice counts once; a different key for the same pair is a conflict.
        string ok = $$"""{"pair_id":"{{pair}}","choice":"left","ratings":{"helpfulness":6},"reason":"clear","idempotency_key":"k2"}""";
        Assert.True((await Post(annotator, "/api/labels", ok)).Body["saved"]!.GetValue<bool>());
        Assert.True((await Post(annotator, "/api/labels", ok)).Body["duplicate"]!.GetValue<bool>());
        Assert.Equal(409, (await Post(annotator, "/api/labels", ok.Replace("k2", "k3"))).Status);
        using (var store = new LabelStore(project))
        {
            var saved = Assert.Single(store.Labels());
            // "left" is response_a unless the pair was shown swapped.
            var shown = store.Assigned(store.Authenticate(ann)!.Value.Id, pair)!;
            Assert.Equal(shown.Swapped ? "b" : "a", saved.Choice);
            Assert.Equal("""{"helpfulness":6}""", saved.Ratings);
        }
    }

    // Labels every pair the annotator is given, preferring the right or polite response ("hi there", "4", "apple",
    // "Paris"), or on the check item the wrong one; returns the pairs given, in order.
    private static async Task<List<string>> LabelEverything(Uri address, string token, bool wrongOnChecks = false)
    {
        using var http = Client(address, token);
        var given = new List<string>();
        while (true)
        {
            var next = JsonNode.Parse(await http.GetStringAsync("/api/next"))!;
            if (next["finished"]!.GetValue<bool>()) return given;
            string pair = next["pair_id"]!.GetValue<string>();
            given.Add(pair);
            string better = pair switch { "p1" => "hi there", "p2" => wrongOnChecks ? "5" : "4", "p3" => "apple", _ => "Paris" };
            string side = next["left"]!.GetValue<string>() == better ? "left" : "right";
            Assert.Equal(200, (await Post(http, "/api/labels", $$"""{"pair_id":"{{pair}}","choice":"{{side}}","idempotency_key":"{{token}}-{{given.Count}}"}""")).Status);
        }
    }

    [Fact]
    public async Task AnLlmJudgeLabelsBesideThePeopleWithoutTakingTheirPlace()
    {
        // The judge: a tiny model served as `reins serve` serves it (the judge's prompt needs a long context).
        string judgeModel = Path.Combine(dir, "judge-model");
        Assert.Equal(0, Run("model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "4", "--max-positions", "1024", "--seed", "4", "--out", judgeModel));
        await using var served = await Serving.OpenAiServer.StartAsync(new Serving.ServeSettings(judgeModel) { Port = 0, ServedModelName = "tiny" });
        string[] judge = ["label", "judge", "--project", project, "--endpoint", new Uri(served.Address, "v1").ToString(), "--model", "tiny"];
        JsonNode Judge()
        {
            var printed = new StringWriter();
            var previous = Console.Out;
            Console.SetOut(printed);
            try { Assert.Equal(0, Run(judge)); }
            finally { Console.SetOut(previous); }
            return JsonNode.Parse(printed.ToString())!;
        }
        var first = Judge();
        // Every pair, the check item too, asked in both orders; a rerun has nothing new to ask.
        Assert.Equal((4, 8), (first["labelled"]!.GetValue<int>(), first["requests"]!.GetValue<int>()));
        var again = Judge();
        Assert.Equal((0, 0), (again["labelled"]!.GetValue<int>(), again["requests"]!.GetValue<int>()));

        // Two people with an overlap of two still get every pair: the judge's labels fill no one's place.
        await using var server = await LabelServer.StartAsync(project, port: 0);
        Assert.Equal(4, (await LabelEverything(server.Address, Token("ann1"))).Count);
        Assert.Equal(4, (await LabelEverything(server.Address, Token("ann2"))).Count);
        using var boss = Client(server.Address, Token("boss", admin: true));
        var stats = JsonNode.Parse(await boss.GetStringAsync("/api/admin/stats"))!;
        Assert.Equal((8, 4), (stats["labels"]!.GetValue<int>(), stats["judge_labels"]!.GetValue<int>()));
        // The people agree on everything; the judge's agreement with them is measured, not folded into theirs.
        Assert.Equal(1.0, stats["fleiss_kappa"]!.GetValue<double>());
        var row = stats["annotators"]!["llm:tiny"]!;
        Assert.True(row["judge"]!.GetValue<bool>());
        Assert.Equal(3, row["pairs_with_a_human_majority"]!.GetValue<int>());
        Assert.InRange(row["agreement_with_human_majority"]!.GetValue<double>(), 0, 1);
        Assert.Equal(1, row["check_items"]!.GetValue<int>());

        // Exports leave the judge out unless asked; the raw export has its labels, marked.
        static List<JsonNode> Records(string text) => [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)];
        Assert.All(Records(await boss.GetStringAsync("/api/admin/export?format=majority")), r => Assert.Equal(2, r["labels"]!.GetValue<int>()));
        string withJudge = Path.Combine(dir, "with-judge.jsonl");
        Assert.Equal(0, Run("label", "export", "--project", project, "--output", withJudge, "--include-judges"));
        Assert.All(Records(File.ReadAllText(withJudge)), r => Assert.Equal(3, r["labels"]!.GetValue<int>()));
        var raw = Records(await boss.GetStringAsync("/api/admin/export?format=raw"));
        Assert.Equal((12, 4), (raw.Count, raw.Count(r => r["judge"]!.GetValue<bool>())));
        // A person's name cannot become a judge's.
        using (var store = new LabelStore(project))
            Assert.Throws<InvalidOperationException>(() => store.Judge("ann1"));
    }

    [Fact]
    public async Task OverlapCheckItemsAgreementAndExports()
    {
        string[] tokens = [Token("ann1"), Token("ann2"), Token("ann3")];
        string admin = Token("boss", admin: true);
        await using var server = await LabelServer.StartAsync(project, port: 0);
        var given = new Dictionary<string, List<string>>();
        for (int a = 0; a < tokens.Length; a++) given[$"ann{a + 1}"] = await LabelEverything(server.Address, tokens[a], wrongOnChecks: a == 2);
        // Each ordinary pair goes to two annotators (the overlap), the check item to all three.
        var counts = given.Values.SelectMany(p => p).GroupBy(p => p).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, counts["p2"]);
        Assert.All(new[] { "p1", "p3", "p4" }, p => Assert.Equal(2, counts[p]));

        using var boss = Client(server.Address, admin);
        var stats = JsonNode.Parse(await boss.GetStringAsync("/api/admin/stats"))!;
        Assert.Equal(9, stats["labels"]!.GetValue<int>());
        Assert.Equal(1.0, stats["fleiss_kappa"]!.GetValue<double>());
        Assert.Equal(1.0, stats["annotators"]!["ann1"]!["check_accuracy"]!.GetValue<double>());
        Assert.Equal(0.0, stats["annotators"]!["ann3"]!["check_accuracy"]!.GetValue<double>());

        var majority = (await boss.GetStringAsync("/api/admin/export?format=majority")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["Paris", "apple", "hi there"], majority.Select(r => r["chosen"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(majority, r => r["pair_id"]!.GetValue<string>() == "p2");
        string soft = Path.Combine(dir, "soft.jsonl");
        Assert.Equal(0, Run("label", "export", "--project", project, "--output", soft, "--format", "soft"));
        Assert.All(File.ReadAllLines(soft), l => Assert.Equal(1.0, JsonNode.Parse(l)!["preference_probability"]!.GetValue<double>()));
        string raw = Path.Combine(dir, "raw.jsonl");
        Assert.Equal(0, Run("label", "export", "--project", project, "--output", raw, "--format", "raw"));
        Assert.Equal(9, File.ReadAllLines(raw).Length);
    }

    [Fact]
    public async Task APairsProjectCanBeMadeFromPromptsAnsweredByServedModels()
    {
        string model = Path.Combine(dir, "tiny"), prompts = Path.Combine(dir, "prompts.jsonl"), fromModels = Path.Combine(dir, "from-models");
        Assert.Equal(0, Run("model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "4", "--max-positions", "128", "--seed", "3", "--out", model));
        File.WriteAllLines(prompts, ["""{"prompt":"Say hi."}""", """{"messages":[{"role":"user","content":"Count to three."}]}"""]);
        await using var server = await Reins.Cli.Serving.OpenAiServer.StartAsync(new Reins.Cli.Serving.ServeSettings(model) { Port = 0 });
        Assert.Equal(0, Run("label", "init", "--project", fromModels, "--prompts", prompts, "--endpoint", new Uri(server.Address, "v1").ToString(), "--model", "tiny", "--max-tokens", "8", "--seed", "2"));
        using var store = new LabelStore(fromModels);
        var pairs = store.Pairs();
        Assert.Equal(["Say hi.", "user: Count to three."], pairs.Select(p => p.Prompt));
        // Two samples of one model with different seeds: at temperature 1 the tiny model's answers differ.
        Assert.All(pairs, p => Assert.NotEqual(p.ResponseA, p.ResponseB));
        Assert.All(pairs, p => Assert.False(string.IsNullOrEmpty(p.ResponseA)));
        Assert.Throws<ArgumentException>(() => Run("label", "init", "--project", Path.Combine(dir, "x"), "--prompts", prompts, "--model", "tiny"));
    }

    [Fact]
    public async Task AnAcknowledgedLabelSurvivesKillMinusNine()
    {
        string ann = Token("ann");
        string? pair = null;
        for (int round = 0; round < 2; round++)
        {
            using var process = ReinsProcess.Start("label", "--project", project, "--port", "0");
            try
            {
                var address = await ReadAddress(process);
                using var http = Client(address, ann);
                if (round == 0)
                {
                    pair = JsonNode.Parse(await http.GetStringAsync("/api/next"))!["pair_id"]!.GetValue<string>();
                    var (status, body) = await Post(http, "/api/labels", $$"""{"pair_id":"{{pair}}","choice":"tie","reason":"same","idempotency_key":"once"}""");
                    Assert.Equal(200, status);
                    Assert.True(body["saved"]!.GetValue<bool>());
                    process.Kill(); // SIGKILL: no shutdown, no flush beyond what the commit already did
                    await process.WaitForExitAsync();
                }
                else
                {
                    // After the restart the label is there, and the same submission still counts once.
                    var (_, again) = await Post(http, "/api/labels", $$"""{"pair_id":"{{pair}}","choice":"tie","idempotency_key":"once"}""");
                    Assert.True(again["duplicate"]!.GetValue<bool>());
                    Assert.Equal(1, JsonNode.Parse(await http.GetStringAsync("/api/next"))!["progress"]!["done"]!.GetValue<int>());
                }
            }
            finally
            {
                if (!process.HasExited) process.Kill();
            }
        }
        using var store = new LabelStore(project);
        var label = Assert.Single(store.Labels());
        Assert.Equal(("tie", "same"), (label.Choice, label.Reason));
    }

    private static async Task<Uri> ReadAddress(Process process)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
        {
            int at = line.IndexOf(" on http://", StringComparison.Ordinal);
            if (at >= 0) return new Uri(line[(at + 4)..line.IndexOf(';', at)]);
        }
        throw new InvalidOperationException("reins label exited without printing its address.");
    }

    [Fact]
    public async Task AnAnnotatorLabelsInChromiumByMouseAndKeyboardAcrossAReload()
    {
        const string Chromium = "/usr/bin/chromium";
        await AptInstall.EnsureAsync(Chromium, "chromium");
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing and could not be installed (apt-get install chromium, as root).");
        string ann = Token("browser");
        await using var server = await LabelServer.StartAsync(project, port: 0);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync();
        string link = new Uri(server.Address, $"label?token={ann}").ToString();
        await page.GotoAsync(link);

        var expected = new Dictionary<string, string>(); // pair prompt → the response the annotator preferred
        async Task Label(Func<Task> act, bool left)
        {
            await page.Locator("#task").WaitForAsync(new() { State = WaitForSelectorState.Visible });
            string prompt = await page.Locator("#prompt").InnerTextAsync();
            expected[prompt] = await page.Locator(left ? "#left" : "#right").InnerTextAsync();
            string before = await page.Locator("#progress").InnerTextAsync();
            await act();
            await page.WaitForFunctionAsync("before => document.getElementById('progress').textContent !== before", before);
        }
        await Label(() => page.Locator("#choose-left").ClickAsync(), left: true);                  // mouse
        await Label(() => page.Keyboard.PressAsync("2"), left: false);                             // keyboard
        await page.ReloadAsync();                                                                  // mid-way
        await page.Locator("#ratings select[name=helpfulness]").WaitForAsync();
        await page.Locator("#ratings select[name=helpfulness]").SelectOptionAsync("6");
        await page.Locator("#reason").FillAsync("more accurate");
        await Label(() => page.Locator("#choose-left").DblClickAsync(), left: true);              // a double click
        Assert.Equal("3 of 4 labelled", await page.Locator("#progress").InnerTextAsync());
        Assert.Equal("", await page.Locator("#error").InnerTextAsync());

        string export = Path.Combine(dir, "browser.jsonl");
        Assert.Equal(0, Run("label", "export", "--project", project, "--output", export, "--format", "raw"));
        var rows = File.ReadAllLines(export).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(3, rows.Count);
        using var store = new LabelStore(project);
        var pairs = store.Pairs().ToDictionary(p => p.Id);
        foreach (var row in rows)
        {
            var p = pairs[row["pair_id"]!.GetValue<string>()];
            Assert.Equal(expected[p.Prompt], row["choice"]!.GetValue<string>() == "a" ? p.ResponseA : p.ResponseB);
        }
        var rated = Assert.Single(rows, r => r["ratings"] is not null);
        Assert.Equal(6, rated["ratings"]!["helpfulness"]!.GetValue<int>());
        Assert.Equal("more accurate", rated["reason"]!.GetValue<string>());
    }
}
