using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Alignment.Training;
using Reins.Farm.Evaluation;
using Reins.Models.Chat;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;
using Reins.Rewards.Judges;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins eval winrate`: a model's responses against a reference's (another model, or a file of outputs) on the same
/// prompts, judged by an LLM judge in both orders or by a farm task's simulated evaluators; AlpacaEval 2's win-rate and
/// length-controlled win-rate with bootstrap intervals over prompts.
/// </summary>
internal static class WinRateCommand
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true };

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint whose responses are evaluated.", Required = true };
        var reference = new Option<string>("--reference") { Description = "Baseline: a checkpoint directory (its responses are generated the same way) or a JSONL file with one \"completion\" (or \"output\") per prompt, in order.", Required = true };
        var prompts = new Option<string>("--prompts") { Description = "JSONL of {\"prompt\": text or messages} or {\"messages\": […]} records.", Required = true };
        var output = new Option<string>("--out") { Description = "Directory written with winrate.json, outputs.jsonl and winrate.html.", Required = true };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "New tokens per response at most.", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature for both models (0 = greedy).", DefaultValueFactory = _ => 0f };
        var seed = CommonOptions.Seed();
        var threads = CommonOptions.Threads();
        var judge = new JudgeCommand.JudgeOptions("judge-");
        var annotators = new Option<string>("--annotators") { Description = "llm (the judge at --judge-endpoint) or simulated (a farm task's evaluator pool; give --task).", DefaultValueFactory = _ => "llm" };
        var task = new Option<string?>("--task") { Description = "With --annotators simulated: the farm task whose evaluators judge (reviews, arithmetic, …)." };
        var cmd = new Command("winrate", "Win-rate and length-controlled win-rate (AlpacaEval 2) of a model against a reference, judged by an LLM judge in both orders, with bootstrap intervals.")
            { model, reference, prompts, output, maxNew, temperature, seed, threads, annotators, task };
        foreach (var option in judge.All) cmd.Options.Add(option);
        cmd.SetAction(async (r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            string outDir = r.GetValue(output)!, promptPath = r.GetValue(prompts)!, referencePath = r.GetValue(reference)!;
            bool simulated = r.GetValue(annotators) switch
            {
                "llm" => r.GetValue(judge.Endpoint) is not null ? false : throw new ArgumentException("eval winrate: --judge-endpoint is required (or --annotators simulated --task T)."),
                "simulated" => r.GetValue(task) is not null ? true : throw new ArgumentException("eval winrate: --annotators simulated needs --task."),
                var other => throw new ArgumentException($"eval winrate: --annotators is llm or simulated, not '{other}'."),
            };
            Directory.CreateDirectory(outDir);
            var records = GenerateCommand.ReadPrompts(promptPath);
            var options = new SamplingOptions { MaxNewTokens = r.GetValue(maxNew), Temperature = r.GetValue(temperature), Seed = r.GetValue(seed) }.Validate();
            var responses = Generate(r.GetValue(model)!, records, promptPath, options, cancellation);
            var baseline = Directory.Exists(referencePath) ? Generate(referencePath, records, promptPath, options, cancellation) : ReadOutputs(referencePath, records.Count);
            var instructions = records.Select(p => p.Text ?? string.Join("\n\n", p.Messages!.Select(m => $"{m.Role}: {m.Content}"))).ToList();
            using var llm = simulated ? null : judge.Create(r, Path.Combine(outDir, "judge-cache.sqlite"))!;
            float[] p = llm is not null ? await llm.JudgeAsync([.. instructions.Select((x, i) => (x, responses[i], baseline[i]))], cancellation)
                : [.. SimulatedEvaluators.Judge(r.GetValue(task)!, instructions, responses, baseline, r.GetValue(seed)).Select(x => (float)x)];

            // AlpacaEval 2 counts length in characters; the length-controlled fit is the simplified one (no instruction difficulty).
            var outcomes = p.Select(x => (double)x).ToList();
            var lengths = responses.Select((x, i) => (double)(x.Length - baseline[i].Length)).ToList();
            ulong bootstrapSeed = r.GetValue(seed) + 1;
            var winRate = Bootstrap.Mean(outcomes, bootstrapSeed);
            var lc = Bootstrap.Statistic(outcomes.Count, sample => LengthControlledWinRate.Fit([.. sample.Select(i => outcomes[i])], [.. sample.Select(i => lengths[i])]).WinRate, bootstrapSeed);
            var usage = llm?.Usage ?? new JudgeUsage(0, 0, 0, 0, 0, 0, 0);
            var summary = new JsonObject
            {
                ["model"] = r.GetValue(model), ["reference"] = referencePath, ["prompts"] = records.Count, ["judge"] = llm?.Name ?? $"simulated:{r.GetValue(task)}",
                ["win_rate"] = Round(winRate.Estimate), ["win_rate_ci"] = new JsonArray(Round(winRate.Low), Round(winRate.High)),
                ["length_controlled_win_rate"] = Round(lc.Estimate), ["length_controlled_win_rate_ci"] = new JsonArray(Round(lc.Low), Round(lc.High)),
                ["ties"] = p.Count(x => x == 0.5f), ["mean_length"] = Round(responses.Average(x => x.Length)), ["reference_mean_length"] = Round(baseline.Average(x => x.Length)),
                ["judge_requests"] = usage.Requests, ["judge_cache_hits"] = usage.CacheHits, ["judge_prompt_tokens"] = usage.PromptTokens,
                ["judge_completion_tokens"] = usage.CompletionTokens, ["judge_cost"] = llm is null ? null : judge.Cost(r, usage), ["judge_soft_labels"] = usage.SoftLabels, ["judge_parsed_verdicts"] = usage.ParsedVerdicts,
                ["judge_unparsed_answers"] = usage.Unparsed,
            };
            var rows = records.Select((rec, i) => new JsonObject
            {
                ["line"] = rec.Line, ["instruction"] = instructions[i], ["output"] = responses[i], ["reference_output"] = baseline[i],
                ["judge_probability"] = Math.Round(p[i], 6),
            }.ToJsonString(new JsonSerializerOptions { Encoder = Json.Encoder })).ToList();
            RunDirectory.WriteAtomically(Path.Combine(outDir, "outputs.jsonl"), string.Concat(rows.Select(x => x + "\n")));
            RunDirectory.WriteAtomically(Path.Combine(outDir, "winrate.json"), summary.ToJsonString(Json) + "\n");
            RunDirectory.WriteAtomically(Path.Combine(outDir, "winrate.html"), Page(summary, instructions, responses, baseline, p));
            Console.Out.WriteLine(summary.ToJsonString(new JsonSerializerOptions { Encoder = Json.Encoder }));
            return 0;
        });
        return cmd;
    }

    private static double Round(double x) => Math.Round(x, 4);

    private static List<string> Generate(string directory, List<GenerateCommand.PromptRecord> records, string promptPath, SamplingOptions options, CancellationToken cancellation)
    {
        var (lm, tokenizer) = HfCheckpoint.LoadWithTokenizer(directory);
        var texts = new List<string>();
        foreach (var (_, results) in GenerateCommand.SampleBatches(lm, tokenizer, ChatFormat.For(tokenizer), records, promptPath,
            options with { StopTokenIds = GenerateCommand.StopTokenIds(tokenizer, lm) }, batchSize: 8, cancellation))
            texts.AddRange(results.Select(x => x.Text!));
        cancellation.ThrowIfCancellationRequested();
        return texts;
    }

    private static List<string> ReadOutputs(string path, int expected)
    {
        var outputs = new List<string>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            var o = JsonNode.Parse(text) as JsonObject ?? throw new InvalidDataException($"{path}:{line}: expected a JSON object.");
            var value = o["completion"] ?? o["output"];
            outputs.Add(value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
                : throw new InvalidDataException($"{path}:{line}: field \"completion\" (or \"output\") must be a string."));
        }
        if (outputs.Count != expected) throw new InvalidDataException($"{path}: {outputs.Count} reference outputs for {expected} prompts; give one per prompt, in order.");
        return outputs;
    }

    private static string Page(JsonObject summary, List<string> instructions, List<string> responses, List<string> baseline, float[] p)
    {
        var sb = new StringBuilder();
        string F(string key) => summary[key]!.ToJsonString();
        sb.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Win-rate</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border-bottom:1px solid #ddd;padding:.3em;vertical-align:top;text-align:left}pre{white-space:pre-wrap;margin:0}</style></head><body>");
        sb.Append($"<h1>{WebUtility.HtmlEncode(summary["model"]!.GetValue<string>())} vs {WebUtility.HtmlEncode(summary["reference"]!.GetValue<string>())}</h1>");
        sb.Append($"<p>Judge {WebUtility.HtmlEncode(summary["judge"]!.GetValue<string>())}, both orders, {F("prompts")} prompts ({F("ties")} ties).</p><table>");
        sb.Append($"<tr><th>win-rate</th><td>{F("win_rate")} {WebUtility.HtmlEncode(F("win_rate_ci"))}</td></tr>");
        sb.Append($"<tr><th>length-controlled win-rate</th><td>{F("length_controlled_win_rate")} {WebUtility.HtmlEncode(F("length_controlled_win_rate_ci"))}</td></tr>");
        sb.Append($"<tr><th>mean length (characters)</th><td>{F("mean_length")} vs {F("reference_mean_length")}</td></tr></table><h2>Responses</h2><table><tr><th>instruction</th><th>model</th><th>reference</th><th>P(model better)</th></tr>");
        for (int i = 0; i < instructions.Count; i++)
            sb.Append($"<tr><td><pre>{WebUtility.HtmlEncode(instructions[i])}</pre></td><td><pre>{WebUtility.HtmlEncode(responses[i])}</pre></td><td><pre>{WebUtility.HtmlEncode(baseline[i])}</pre></td><td>{p[i].ToString("0.000", CultureInfo.InvariantCulture)}</td></tr>");
        sb.Append("</table></body></html>\n");
        return sb.ToString();
    }
}
