using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Alignment.Training;
using Reins.Rewards.Judges;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins judge`: pairs of responses labelled by an LLM judge over an OpenAI-compatible API, written as TRL preference
/// records, with the judge's agreement with any label the records already carry.
/// </summary>
internal static class JudgeCommand
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The flags that reach a judge, shared by `reins judge` and `reins online-dpo`.</summary>
    internal sealed class JudgeOptions(string prefix)
    {
        public readonly Option<string?> Endpoint = new($"--{prefix}endpoint") { Description = "OpenAI-compatible API base of the judge, e.g. http://127.0.0.1:8000/v1 (vLLM, llama.cpp, TGI, reins serve, a hosted API)." };
        public readonly Option<string?> Model = new($"--{prefix}model") { Description = "The judge's model name at that endpoint." };
        public readonly Option<string?> KeyEnv = new($"--{prefix}api-key-env") { Description = "Environment variable holding the judge's API key (never a flag, never logged)." };
        public readonly Option<string?> Template = new($"--{prefix}template") { Description = "Judge prompt file: system message, a line '---', user message with {instruction}, {output_a}, {output_b}." };
        public readonly Option<string?> Cache = new($"--{prefix}cache") { Description = "SQLite file caching every judge request and answer (a rerun never pays twice)." };
        public readonly Option<int> Concurrency = new($"--{prefix}concurrency") { Description = "Judge requests in flight at most.", DefaultValueFactory = _ => 4 };

        public readonly Option<double?> PriceInput = new($"--{prefix}price-input") { Description = "Price of the judge's prompt tokens, per million (for the cost in the summary)." };
        public readonly Option<double?> PriceOutput = new($"--{prefix}price-output") { Description = "Price of the judge's completion tokens, per million." };

        public Option[] All => [Endpoint, Model, KeyEnv, Template, Cache, Concurrency, PriceInput, PriceOutput];

        /// <summary>What the judge's uncached requests cost at the given prices, or null when no price is given.</summary>
        public double? Cost(ParseResult r, JudgeUsage usage) =>
            r.GetValue(PriceInput) is null && r.GetValue(PriceOutput) is null ? null
            : Math.Round((usage.PromptTokens * (r.GetValue(PriceInput) ?? 0) + usage.CompletionTokens * (r.GetValue(PriceOutput) ?? 0)) / 1e6, 6);

        /// <summary>The judge the flags describe, or null when no endpoint is given.</summary>
        public LlmPairwiseJudge? Create(ParseResult r, string? defaultCache) => Settings(r, defaultCache) is { } settings ? new LlmPairwiseJudge(settings) : null;

        /// <summary>The judge settings the flags describe, or null when no endpoint is given.</summary>
        public LlmJudgeSettings? Settings(ParseResult r, string? defaultCache)
        {
            if (r.GetValue(Endpoint) is not { } endpoint) return null;
            var uri = Uri.TryCreate(endpoint, UriKind.Absolute, out var u) ? u : throw new ArgumentException($"{Endpoint.Name}: '{endpoint}' is not an absolute URL.");
            string model = r.GetValue(Model) ?? throw new ArgumentException($"{Endpoint.Name} needs {Model.Name}.");
            string? key = null;
            if (r.GetValue(KeyEnv) is { } variable)
                key = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? value : throw new ArgumentException($"{KeyEnv.Name}: {variable} is not set or empty.");
            if (r.GetValue(Concurrency) < 1) throw new ArgumentException($"{Concurrency.Name} must be at least 1.");
            return new LlmJudgeSettings(uri, model)
            {
                ApiKey = key, Concurrency = r.GetValue(Concurrency), CachePath = r.GetValue(Cache) ?? defaultCache,
                Template = r.GetValue(Template) is { } path ? JudgeTemplate.Load(path) : JudgeTemplate.Default,
            };
        }
    }

    public static Command Create()
    {
        var input = new Option<string>("--input") { Description = "JSONL of pairs: {\"prompt\", \"completions\": [a, b]}, or TRL's {\"prompt\", \"chosen\", \"rejected\"} (then the order is a label to agree with).", Required = true };
        var output = new Option<string>("--output") { Description = "TRL preference JSONL: prompt, chosen, rejected, judge_probability (that chosen is better), judge_tie; other fields copied.", Required = true };
        var judge = new JudgeOptions("");
        var pointwise = new Option<string?>("--pointwise") { Description = "Rate single responses instead of pairs: 'score' (1–10) or 'helpsteer2' (helpfulness, correctness, coherence, complexity, verbosity, 0–4); input {\"prompt\", \"response\"}, output HelpSteer-style rating records." };
        var cmd = new Command("judge", "Label pairs of responses with an LLM judge (both orders, soft labels from log-probs, cached), as TRL preference records; or rate single responses (--pointwise).") { input, output, pointwise };
        foreach (var option in judge.All) cmd.Options.Add(option);
        cmd.SetAction(async (r, cancellation) =>
        {
            string inPath = r.GetValue(input)!, outPath = r.GetValue(output)!;
            if (r.GetValue(judge.Endpoint) is null) throw new ArgumentException("judge: --endpoint is required.");
            if (r.GetValue(pointwise) is { } scaleName)
            {
                var scale = scaleName switch
                {
                    "score" => RatingScale.Score,
                    "helpsteer2" => RatingScale.HelpSteer2,
                    _ => throw new ArgumentException($"judge: --pointwise is score or helpsteer2, not '{scaleName}'."),
                };
                await RateAsync(inPath, outPath, new LlmPointwiseJudge(judge.Settings(r, outPath + ".judge-cache.sqlite")!, scale), scale, usage => judge.Cost(r, usage), cancellation);
                return 0;
            }
            var pairs = Read(inPath);
            using var llm = judge.Create(r, outPath + ".judge-cache.sqlite")!;
            var p = await llm.JudgeAsync([.. pairs.Select(x => (x.Prompt, x.First, x.Second))], cancellation);
            int ties = 0, labelled = 0, agreed = 0;
            var lines = new List<string>();
            for (int i = 0; i < pairs.Count; i++)
            {
                var pair = pairs[i];
                bool firstWins = p[i] >= 0.5f, tie = p[i] == 0.5f;
                ties += tie ? 1 : 0;
                if (pair.Labelled && !tie) { labelled++; agreed += firstWins ? 1 : 0; }
                var o = pair.Record.DeepClone().AsObject();
                o.Remove("completions");
                o["chosen"] = firstWins ? pair.First : pair.Second;
                o["rejected"] = firstWins ? pair.Second : pair.First;
                o["judge_probability"] = Math.Round(firstWins ? p[i] : 1 - p[i], 6);
                o["judge_tie"] = tie;
                if (pair.Labelled) o["judge_agrees_with_label"] = tie ? null : firstWins;
                o["judge"] = llm.Name;
                lines.Add(o.ToJsonString(Json));
            }
            RunDirectory.WriteAtomically(outPath, string.Concat(lines.Select(l => l + "\n")));
            var usage = llm.Usage;
            var summary = new JsonObject
            {
                ["pairs"] = pairs.Count, ["ties"] = ties, ["labelled_pairs_judged"] = labelled,
                ["agreement_with_labels"] = labelled > 0 ? Math.Round((double)agreed / labelled, 4) : null,
                ["requests"] = usage.Requests, ["cache_hits"] = usage.CacheHits, ["prompt_tokens"] = usage.PromptTokens, ["completion_tokens"] = usage.CompletionTokens,
                ["cost"] = judge.Cost(r, usage), ["soft_labels"] = usage.SoftLabels, ["parsed_verdicts"] = usage.ParsedVerdicts, ["unparsed_answers"] = usage.Unparsed,
            };
            Console.Out.WriteLine(summary.ToJsonString(Json));
            Console.Error.WriteLine($"judge: {pairs.Count} pairs ({ties} ties) → {outPath}");
            return 0;
        });
        return cmd;
    }

    // HelpSteer-style records: the input's fields with one rating per attribute (null when the judge gave none, counted).
    private static async Task RateAsync(string inPath, string outPath, LlmPointwiseJudge judge, RatingScale scale, Func<JudgeUsage, double?> cost, CancellationToken cancellation)
    {
        using var _ = judge;
        var records = JsonlRecords.Read(inPath).Select(x => (x.Record, Prompt: JsonlRecords.Text(x.Record["prompt"], x.At, "prompt"),
            Response: JsonlRecords.Text(x.Record["response"] ?? x.Record["completion"], x.At, "response"))).ToList();
        if (records.Count == 0) throw new InvalidDataException($"{inPath}: no records.");
        var ratings = await judge.RateAsync([.. records.Select(x => (x.Prompt, x.Response))], cancellation);
        var lines = records.Select((x, i) =>
        {
            var o = x.Record.DeepClone().AsObject();
            for (int a = 0; a < scale.Attributes.Count; a++) o[scale.Attributes[a]] = double.IsNaN(ratings[i][a]) ? null : Math.Round(ratings[i][a], 4);
            o["judge"] = $"llm:{judge.Model}";
            return o.ToJsonString(Json);
        }).ToList();
        RunDirectory.WriteAtomically(outPath, string.Concat(lines.Select(l => l + "\n")));
        var usage = judge.Usage;
        Console.Out.WriteLine(new JsonObject
        {
            ["responses"] = records.Count, ["ratings"] = records.Count * scale.Attributes.Count, ["unrated"] = usage.Unparsed,
            ["requests"] = usage.Requests, ["cache_hits"] = usage.CacheHits, ["prompt_tokens"] = usage.PromptTokens, ["completion_tokens"] = usage.CompletionTokens,
            ["cost"] = cost(usage), ["soft_ratings"] = usage.SoftLabels, ["parsed_ratings"] = usage.ParsedVerdicts,
        }.ToJsonString(Json));
        Console.Error.WriteLine($"judge: {records.Count} responses rated on {string.Join(", ", scale.Attributes)} → {outPath}");
    }

    private sealed record Pair(int Line, JsonObject Record, string Prompt, string First, string Second, bool Labelled);

    private static List<Pair> Read(string path)
    {
        var pairs = new List<Pair>();
        foreach (var (line, at, o) in JsonlRecords.Read(path))
        {
            var (prompt, first, second, labelled) = JsonlRecords.Pair(o, at);
            pairs.Add(new Pair(line, o, prompt, first, second, labelled));
        }
        if (pairs.Count == 0) throw new InvalidDataException($"{path}: no pairs.");
        return pairs;
    }
}
