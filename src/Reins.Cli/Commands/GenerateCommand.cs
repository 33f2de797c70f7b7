using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Models.Chat;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Spectre.Console;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins generate`: one prompt streamed to stdout, or a JSONL file of prompts to a JSONL file of completions with
/// their tokens and per-token log-probs. Ctrl-C stops generation and keeps what was produced.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint directory (with its tokenizer).", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "One prompt; the completion streams to stdout." };
        var input = new Option<string?>("--input") { Description = "JSONL of {\"prompt\": text or a messages list} or {\"messages\": […]} records; conversations get the model's chat template with a generation prompt. Other fields are copied to the output." };
        var output = new Option<string?>("--output") { Description = "JSONL written with --input: one record per sample." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "New tokens per sample at most.", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature; 0 is greedy.", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = off).", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass (1 = off).", DefaultValueFactory = _ => 1f };
        var minP = new Option<float>("--min-p") { Description = "Keep tokens at least min_p × the top probability (0 = off).", DefaultValueFactory = _ => 0f };
        var repetition = new Option<float>("--repetition-penalty") { Description = "CTRL repetition penalty (1 = off).", DefaultValueFactory = _ => 1f };
        var n = new Option<int>("--num-return-sequences") { Description = "Samples per prompt (sharing the prompt's prefill).", DefaultValueFactory = _ => 1 };
        var stop = new Option<string[]>("--stop") { Description = "Stop strings (repeatable); EOS always stops.", AllowMultipleArgumentsPerToken = true };
        var batchSize = new Option<int>("--batch-size") { Description = "Prompts per batch with --input.", DefaultValueFactory = _ => 8 };
        var seed = CommonOptions.Seed();
        var threads = CommonOptions.Threads();
        var bf16 = new Option<bool>("--bf16") { Description = "Hold the weight matrices as bfloat16 only (half their memory and of the bytes a token reads; float32 activations and sums): faster decoding, log-probs within bf16 rounding of float32's." };
        var kvDtype = CommonOptions.KvCacheDtype();
        var cmd = new Command("generate", "Sample completions with a KV cache, returning tokens, text, finish reasons and per-token log-probs.")
            { model, prompt, input, output, maxNew, temperature, topK, topP, minP, repetition, n, stop, batchSize, seed, threads, bf16, kvDtype };
        cmd.SetAction(async (r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            string dir = r.GetValue(model)!;
            // Generation trains nothing: under --bf16 the weight matrices are read straight into bf16, never float32.
            var (lm, tokenizer) = HfCheckpoint.LoadWithTokenizer(dir, r.GetValue(bf16) ? _ => true : null);
            if (r.GetValue(bf16)) lm.FreezeAsBf16();
            lm.Bf16KvCache = r.GetValue(kvDtype) == "bfloat16";
            var eos = tokenizer.EosId ?? lm.Config.EosTokenId;
            var options = new SamplingOptions
            {
                MaxNewTokens = r.GetValue(maxNew), Temperature = r.GetValue(temperature), TopK = r.GetValue(topK), TopP = r.GetValue(topP),
                MinP = r.GetValue(minP), RepetitionPenalty = r.GetValue(repetition), NumReturnSequences = r.GetValue(n),
                StopTokenIds = eos is { } e ? [e] : [], StopStrings = r.GetValue(stop) ?? [], Seed = r.GetValue(seed),
            }.Validate();
            string Decode(int[] ids) => tokenizer.Decode(ids, skipSpecialTokens: true);
            var chat = ChatFormat.For(tokenizer);
            int[] Encode(PromptRecord p, string where) => EncodePrompt(tokenizer, chat, p, where);

            if (r.GetValue(prompt) is { } text)
            {
                if (r.GetValue(input) is not null) throw new ArgumentException("generate: give --prompt or --input, not both.");
                var decoders = Enumerable.Range(0, options.NumReturnSequences).Select(_ => tokenizer.CreateStreamingDecoder(skipSpecialTokens: true)).ToArray();
                await foreach (var t in Generator.StreamAsync(lm, [Encode(new PromptRecord(0, text, null, []), "--prompt")], options, Decode, cancellation))
                {
                    if (t.Token >= 0) Console.Out.Write(options.NumReturnSequences == 1 ? decoders[t.SampleIndex].Push(t.Token) : "");
                    if (t.FinishReason is { } why && options.NumReturnSequences == 1) Console.Error.WriteLine($"\n[finish: {why.ToString().ToLowerInvariant()}]");
                }
                if (options.NumReturnSequences > 1)
                    Console.Error.WriteLine("generate: with --prompt, --num-return-sequences > 1 is written as JSONL only with --input.");
                return 0;
            }
            string inPath = r.GetValue(input) ?? throw new ArgumentException("generate: give --prompt TEXT or --input FILE.");
            string outPath = r.GetValue(output) ?? throw new ArgumentException("generate: --input needs --output.");
            var records = ReadPrompts(inPath);
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            int written = 0;
            string tmp = outPath + ".tmp";
            await using (var writer = new StreamWriter(tmp))
            {
                await console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .StartAsync(async ctx =>
                    {
                        var task = ctx.AddTask("generating", maxValue: records.Count);
                        foreach (var (batch, results) in SampleBatches(lm, tokenizer, chat, records, inPath, options, r.GetValue(batchSize), cancellation))
                        {
                            foreach (var res in results)
                            {
                                var o = batch[res.PromptIndex].Record.DeepClone().AsObject();
                                o["completion"] = res.Text;
                                o["sample_index"] = res.SampleIndex;
                                o["finish_reason"] = res.FinishReason.ToString().ToLowerInvariant();
                                o["completion_ids"] = new JsonArray([.. res.Tokens.Select(x => (JsonNode?)x)]);
                                o["logprobs"] = new JsonArray([.. res.LogProbs.Select(x => (JsonNode?)x)]);
                                await writer.WriteLineAsync(o.ToJsonString(Json));
                                written++;
                            }
                            task.Increment(batch.Count);
                        }
                    });
            }
            File.Move(tmp, outPath, overwrite: true);
            Console.Error.WriteLine($"generate: {written} samples for {records.Count} prompts → {outPath}{(cancellation.IsCancellationRequested ? " (cancelled: partial)" : "")}");
            return 0;
        });
        return cmd;
    }

    // Non-ASCII text stays readable in the output instead of \uXXXX escapes.
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    internal sealed record PromptRecord(int Line, string? Text, IReadOnlyList<ChatMessage>? Messages, JsonObject Record);

    /// <summary>
    /// The records' samples, a batch at a time, until cancelled. Each prompt's seed comes from its line number, so its
    /// samples do not depend on which batch it fell in.
    /// </summary>
    internal static IEnumerable<(List<PromptRecord> Batch, IReadOnlyList<GeneratedSequence> Results)> SampleBatches(CausalLanguageModel lm, Tokenizer tokenizer,
        ChatFormat chat, List<PromptRecord> records, string path, SamplingOptions options, int batchSize, CancellationToken cancellation)
    {
        for (int start = 0; start < records.Count && !cancellation.IsCancellationRequested; start += batchSize)
        {
            var batch = records.Skip(start).Take(batchSize).ToList();
            var prompts = batch.Select(b => EncodePrompt(tokenizer, chat, b, $"{path}:{b.Line}")).ToList();
            yield return (batch, Generator.Generate(lm, prompts, options with { PromptSeeds = [.. batch.Select(b => options.Seed * 1_000_003UL + (ulong)b.Line)] },
                ids => tokenizer.Decode(ids, skipSpecialTokens: true), cancellation));
        }
    }

    /// <summary>The tokens that end a reply: the tokenizer's EOS and the model config's, as a server or evaluation stops on either.</summary>
    internal static int[] StopTokenIds(Tokenizer tokenizer, CausalLanguageModel model) =>
        new[] { tokenizer.EosId, model.Config.EosTokenId }.OfType<int>().Distinct().ToArray();

    /// <summary>A prompt's ids: a conversation through the chat template with a generation prompt, a text as it is (with BOS when the post-processor adds it).</summary>
    internal static int[] EncodePrompt(Tokenizer tokenizer, ChatFormat chat, PromptRecord p, string where)
    {
        if (p.Messages is { } messages) return chat.Encode(tokenizer, messages, addGenerationPrompt: true).Ids;
        var ids = tokenizer.Encode(p.Text!, addSpecialTokens: true);
        if (ids.Length == 0 && tokenizer.BosId is { } bos) ids = [bos];
        return ids.Length > 0 ? ids : throw new ArgumentException($"{where}: the prompt encodes to no tokens and the tokenizer has no BOS.");
    }

    internal static List<PromptRecord> ReadPrompts(string path)
    {
        var list = new List<PromptRecord>();
        foreach (var utf8 in Utf8Lines.Read(path))
        {
            int line = utf8.Number;
            var text = utf8.Text ?? throw new InvalidDataException($"{path}:{line}: {utf8.Problem}.");
            if (string.IsNullOrWhiteSpace(text)) continue;
            // Strictly parsed (distinct keys, every string text), so a lone surrogate is an error here, not at GetValue.
            var o = JsonText.Parse(Encoding.UTF8.GetBytes(text), $"{path}:{line}") as JsonObject ?? throw new InvalidDataException($"{path}:{line}: expected a JSON object.");
            var prompt = o["prompt"] ?? o["messages"];
            if (prompt is JsonValue v && v.GetValueKind() == JsonValueKind.String) list.Add(new PromptRecord(line, v.GetValue<string>(), null, o));
            else if (prompt is JsonArray turns) list.Add(new PromptRecord(line, null, [.. turns.Select((t, i) => Message(t, $"{path}:{line}: field \"{(o["prompt"] is null ? "messages" : "prompt")}[{i}]\""))], o));
            else throw new InvalidDataException($"{path}:{line}: field \"prompt\" must be a string or a list of messages (or give \"messages\").");
        }
        if (list.Count == 0) throw new InvalidDataException($"{path}: no prompts.");
        return list;
    }

    private static ChatMessage Message(JsonNode? node, string where) =>
        node is JsonObject m && m["role"] is JsonValue role && role.GetValueKind() == JsonValueKind.String && m["content"] is JsonValue content && content.GetValueKind() == JsonValueKind.String
            ? new ChatMessage(role.GetValue<string>(), content.GetValue<string>())
            : throw new InvalidDataException($"{where}: expected {{\"role\": string, \"content\": string}}.");
}
