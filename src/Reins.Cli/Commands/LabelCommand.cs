using System.ClientModel;
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;
using Reins.Alignment.Training;
using Reins.Cli.Labelling;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins label --project DIR`: serves the labelling app; `init` loads a project's pairs, `add-annotator` prints a
/// personal link, `judge` has an LLM judge label the pairs beside the people, `export` writes the labels as TRL
/// preference JSONL or raw records.
/// </summary>
internal static class LabelCommand
{
    public static Command Create()
    {
        var project = new Option<string>("--project") { Description = "Project directory (its labels.sqlite holds pairs, annotators and labels).", Required = true };
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0 picks a free one).", DefaultValueFactory = _ => 8080 };
        var cmd = new Command("label", "A labelling app for people: pairs of responses judged in the browser, stored in SQLite, exported as TRL preferences.") { project, host, port };
        cmd.SetAction(async (r, cancellation) =>
        {
            using var signals = new StopSignals();
            await using var server = await LabelServer.StartAsync(r.GetValue(project)!, r.GetValue(host)!, r.GetValue(port), cancellation);
            // Tests and scripts read the address from this line.
            Console.Error.WriteLine($"reins label: serving {r.GetValue(project)} on {server.Address}; Ctrl-C stops.");
            try { await Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(cancellation, signals.Token).Token); }
            catch (OperationCanceledException) { }
            return 0;
        });
        cmd.Subcommands.Add(Init());
        cmd.Subcommands.Add(AddAnnotator());
        cmd.Subcommands.Add(Judge());
        cmd.Subcommands.Add(Export());
        return cmd;
    }

    private static Command Init()
    {
        var project = new Option<string>("--project") { Description = "New project directory.", Required = true };
        var pairs = new Option<string?>("--pairs") { Description = "JSONL of {\"id\"?, \"prompt\", \"completions\": [a, b]} (or \"chosen\"/\"rejected\"); \"check\": \"a\" or \"b\" makes a hidden check item with that answer." };
        var prompts = new Option<string?>("--prompts") { Description = "Instead of --pairs: JSONL of {\"prompt\": text or messages} records, answered by --model (twice) or by --model and --model-b through their OpenAI-compatible endpoints (e.g. reins serve)." };
        var endpoint = new Option<string?>("--endpoint") { Description = "OpenAI-compatible API base of --model, e.g. http://127.0.0.1:8000/v1." };
        var model = new Option<string?>("--model") { Description = "The model answering the prompts (response a)." };
        var endpointB = new Option<string?>("--endpoint-b") { Description = "API base of --model-b (default: --endpoint)." };
        var modelB = new Option<string?>("--model-b") { Description = "A second model for response b (default: a second sample of --model)." };
        var keyEnv = new Option<string?>("--api-key-env") { Description = "Environment variable holding the endpoints' API key." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens per response at most.", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature of the responses.", DefaultValueFactory = _ => 1f };
        var seed = CommonOptions.Seed();
        var overlap = new Option<int>("--overlap") { Description = "Annotators per pair (2 or more for agreement).", DefaultValueFactory = _ => 2 };
        var attributes = new Option<string?>("--attributes") { Description = "Comma-separated 1–7 rating attributes offered with each pair, e.g. helpfulness,harmlessness." };
        var cmd = new Command("init", "Create a labelling project from a pairs file, or from prompts answered by one or two served models.")
            { project, pairs, prompts, endpoint, model, endpointB, modelB, keyEnv, maxTokens, temperature, seed, overlap, attributes };
        cmd.SetAction(async (r, cancellation) =>
        {
            if (r.GetValue(overlap) < 1) throw new ArgumentException("label init: --overlap must be at least 1.");
            if ((r.GetValue(pairs) is null) == (r.GetValue(prompts) is null)) throw new ArgumentException("label init: give --pairs FILE, or --prompts FILE with --endpoint and --model.");
            var list = r.GetValue(pairs) is { } file ? ReadPairs(file) : await PairsFromModelsAsync(r.GetValue(prompts)!,
                Client(r.GetValue(endpoint), r.GetValue(model), r.GetValue(keyEnv), "--endpoint", "--model"),
                Client(r.GetValue(endpointB) ?? r.GetValue(endpoint), r.GetValue(modelB) ?? r.GetValue(model), r.GetValue(keyEnv), "--endpoint-b", "--model-b"),
                r.GetValue(maxTokens), r.GetValue(temperature), r.GetValue(seed), cancellation);
            var names = (r.GetValue(attributes) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            using var store = new LabelStore(r.GetValue(project)!);
            int n = store.Initialise(list, r.GetValue(overlap), names);
            Console.Error.WriteLine($"label init: {n} pairs ({list.Count(p => p.CheckAnswer is not null)} check items), overlap {r.GetValue(overlap)} → {r.GetValue(project)}");
            return 0;
        });
        return cmd;
    }

    private static ChatClient Client(string? endpoint, string? model, string? keyEnv, string endpointFlag, string modelFlag)
    {
        var uri = endpoint is not null && Uri.TryCreate(endpoint, UriKind.Absolute, out var u) ? u : throw new ArgumentException($"label init: --prompts needs {endpointFlag} as an absolute URL.");
        string name = model ?? throw new ArgumentException($"label init: --prompts needs {modelFlag}.");
        string key = keyEnv is null ? "none" : Environment.GetEnvironmentVariable(keyEnv) is { Length: > 0 } k ? k : throw new ArgumentException($"label init: {keyEnv} is not set or empty.");
        return new ChatClient(name, new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = uri });
    }

    // Response a from the first model, b from the second (or a second sample of the first, with another seed).
    private static async Task<List<LabelPair>> PairsFromModelsAsync(string path, ChatClient a, ChatClient b, int maxTokens, float temperature, ulong seed, CancellationToken cancellation)
    {
        var records = GenerateCommand.ReadPrompts(path);
        async Task<string> Answer(ChatClient client, GenerateCommand.PromptRecord p, long sampleSeed)
        {
            List<OpenAI.Chat.ChatMessage> messages = p.Messages is { } turns
                ? [.. turns.Select(m => m.Role switch { "system" => (OpenAI.Chat.ChatMessage)new SystemChatMessage(m.Content), "assistant" => new AssistantChatMessage(m.Content), _ => new UserChatMessage(m.Content) })]
                : [new UserChatMessage(p.Text)];
#pragma warning disable OPENAI001 // Seed is marked experimental in the client; the server honours it.
            var options = new ChatCompletionOptions { MaxOutputTokenCount = maxTokens, Temperature = temperature, Seed = sampleSeed };
#pragma warning restore OPENAI001
            var completion = (await client.CompleteChatAsync(messages, options, cancellation)).Value;
            return string.Concat(completion.Content.Select(c => c.Text));
        }
        var pairs = new List<LabelPair>();
        foreach (var p in records)
        {
            long first = (long)(seed * 1_000_003UL) + 2L * p.Line;
            string prompt = p.Text ?? string.Join("\n\n", p.Messages!.Select(m => $"{m.Role}: {m.Content}"));
            pairs.Add(new LabelPair($"line-{p.Line}", prompt, await Answer(a, p, first), await Answer(b, p, first + 1), null));
        }
        return pairs;
    }

    private static Command AddAnnotator()
    {
        var project = new Option<string>("--project") { Description = "Project directory.", Required = true };
        var name = new Argument<string>("name") { Description = "The annotator's name (unique in the project)." };
        var admin = new Option<bool>("--admin") { Description = "An admin: sees the statistics and exports, labels nothing." };
        var url = new Option<string>("--url") { Description = "Base address the link is printed with.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var cmd = new Command("add-annotator", "Add an annotator and print their personal link (only a hash of its token is stored).") { project, name, admin, url };
        cmd.SetAction(r =>
        {
            using var store = new LabelStore(r.GetValue(project)!);
            string token = store.AddAnnotator(r.GetValue(name)!, r.GetValue(admin));
            Console.Out.WriteLine($"{r.GetValue(url)!.TrimEnd('/')}/{(r.GetValue(admin) ? "admin" : "label")}?token={token}");
            return 0;
        });
        return cmd;
    }

    // Every pair the judge has not labelled yet (check items too: they measure it), each judged in both orders; a rerun
    // asks only about what is new, and the judge's cache beside the project answers what was asked before.
    private static Command Judge()
    {
        var project = new Option<string>("--project") { Description = "Project directory.", Required = true };
        var judge = new JudgeCommand.JudgeOptions("");
        var cmd = new Command("judge", "Have an LLM judge label the project's pairs as an annotator of its own: its labels count neither towards a pair's overlap nor in the people's agreement, " +
            "the admin statistics give its check accuracy and its agreement with the people's majority, and exports leave it out unless --include-judges.") { project };
        foreach (var o in judge.All) cmd.Add(o);
        cmd.SetAction(async (r, cancellation) =>
        {
            string dir = r.GetValue(project)!;
            if (!File.Exists(Path.Combine(dir, "labels.sqlite"))) throw new ArgumentException($"label judge: {dir} is not a labelling project (reins label init).");
            using var llm = judge.Create(r, Path.Combine(dir, "judge-cache.sqlite")) ?? throw new ArgumentException("label judge: --endpoint and --model are required.");
            using var store = new LabelStore(dir);
            long id = store.Judge(llm.Name);
            var pairs = store.Unlabelled(id);
            var probabilities = await llm.JudgeAsync([.. pairs.Select(p => (p.Prompt, p.ResponseA, p.ResponseB))], cancellation);
            for (int i = 0; i < pairs.Count; i++)
            {
                float p = probabilities[i];
                string choice = p > 0.5f ? "a" : p < 0.5f ? "b" : "tie";
                store.Save(id, new AssignedPair(pairs[i], Swapped: false), choice, null, $"P(a > b) = {p.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)}",
                    $"{llm.Name}:{pairs[i].Id}");
            }
            var usage = llm.Usage;
            Console.Out.WriteLine(new JsonObject
            {
                ["judge"] = llm.Name, ["labelled"] = pairs.Count, ["requests"] = usage.Requests, ["cache_hits"] = usage.CacheHits,
                ["prompt_tokens"] = usage.PromptTokens, ["completion_tokens"] = usage.CompletionTokens, ["cost"] = judge.Cost(r, usage),
                ["soft_labels"] = usage.SoftLabels, ["parsed_verdicts"] = usage.ParsedVerdicts, ["unparsed_answers"] = usage.Unparsed,
            }.ToJsonString());
            return 0;
        });
        return cmd;
    }

    private static Command Export()
    {
        var project = new Option<string>("--project") { Description = "Project directory.", Required = true };
        var output = new Option<string>("--output") { Description = "JSONL written.", Required = true };
        var format = new Option<string>("--format") { Description = "majority (TRL preference by majority), soft (plus preference_probability) or raw (one record per label).", DefaultValueFactory = _ => "majority" };
        var includeJudges = new Option<bool>("--include-judges") { Description = "Let LLM judges' labels vote in the majority and soft exports (the raw export always has them, marked)." };
        var cmd = new Command("export", "Write the labels: TRL preference records by majority or soft label, or the raw labels.") { project, output, format, includeJudges };
        cmd.SetAction(r =>
        {
            using var store = new LabelStore(r.GetValue(project)!);
            var (lines, undecided) = LabelExport.Lines(store, r.GetValue(format)!, r.GetValue(includeJudges));
            RunDirectory.WriteAtomically(r.GetValue(output)!, string.Concat(lines.Select(l => l + "\n")));
            Console.Error.WriteLine($"label export: {lines.Count} records → {r.GetValue(output)}{(undecided > 0 ? $"; {undecided} pairs left out with tied votes" : "")}");
            return 0;
        });
        return cmd;
    }

    private static List<LabelPair> ReadPairs(string path)
    {
        var pairs = new List<LabelPair>();
        var ids = new HashSet<string>();
        foreach (var (line, at, o) in JsonlRecords.Read(path))
        {
            string id = o["id"] is { } given ? given.ToString() : $"line-{line}";
            if (!ids.Add(id)) throw new InvalidDataException($"{at}: $.id '{id}' appears twice.");
            var (prompt, a, b, _) = JsonlRecords.Pair(o, at);
            string? check = o["check"] is null ? null : JsonlRecords.Text(o["check"], at, "check");
            if (check is not (null or "a" or "b")) throw new InvalidDataException($"{at}: $.check must be \"a\" or \"b\".");
            pairs.Add(new LabelPair(id, prompt, a, b, check));
        }
        if (pairs.Count == 0) throw new InvalidDataException($"{path}: no pairs.");
        return pairs;
    }
}
