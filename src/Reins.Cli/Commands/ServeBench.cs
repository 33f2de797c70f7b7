using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Cli.Serving;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins bench serve`: throughput and p50/p95 latency of `reins serve` for 1, 8 and 32 concurrent clients on a random
/// checkpoint of a preset, against the same requests run one after another through the generator in process (what
/// sequential `reins generate` calls do, without their start-up).
/// </summary>
internal static class ServeBench
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "tiny, small or gpt2.", DefaultValueFactory = _ => "small" };
        var requests = new Option<int>("--requests") { Description = "Requests per measurement (split over the clients).", DefaultValueFactory = _ => 32 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Completion tokens per request (greedy).", DefaultValueFactory = _ => 32 };
        var threads = CommonOptions.Threads();
        var cmd = new Command("serve", "reins serve throughput and p50/p95 latency for 1, 8 and 32 concurrent clients, against the same requests run sequentially.") { config, requests, maxTokens, threads };
        cmd.SetAction(async (r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var preset = ModelPreset.Get(r.GetValue(config)!);
            string dir = Path.Combine(Path.GetTempPath(), $"reins-bench-serve-{Guid.NewGuid():N}");
            try
            {
                var tokenizer = Tokenizer.CreateByteLevel(preset.Vocab);
                HfCheckpoint.Save(CausalLanguageModel.Create(preset.ToConfig(), seed: 1), dir, tokenizer.Save);
                int n = r.GetValue(requests), max = r.GetValue(maxTokens);
                var prompts = Enumerable.Range(0, n).Select(i => $"Request {i}: tell me about the weather in city number {i}.").ToList();

                // The baseline: each request alone through the generator, one after another.
                var (lm, tok) = HfCheckpoint.LoadWithTokenizer(dir);
                var options = new SamplingOptions { MaxNewTokens = max, Temperature = 0, StopTokenIds = tok.EosId is { } e ? [e] : [] };
                var latencies = new List<double>();
                long tokens = 0;
                var clock = Stopwatch.StartNew();
                foreach (var p in prompts)
                {
                    var one = Stopwatch.StartNew();
                    tokens += Generator.Generate(lm, [tok.Encode(p, addSpecialTokens: true)], options)[0].Tokens.Length;
                    latencies.Add(one.Elapsed.TotalMilliseconds);
                }
                double sequential = tokens / clock.Elapsed.TotalSeconds;
                Print(preset.Name, "sequential", 1, n, tokens, sequential, latencies, sequential);

                await using var server = await OpenAiServer.StartAsync(new ServeSettings(dir) { Port = 0, ServedModelName = "bench", QueueLimit = 4 * n, MaxBatch = 32 }, cancellation);
                using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };
                foreach (int clients in new[] { 1, 8, 32 })
                {
                    var perRequest = new double[n];
                    long served = 0;
                    clock.Restart();
                    await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = clients, CancellationToken = cancellation }, async (i, ct) =>
                    {
                        var one = Stopwatch.StartNew();
                        using var response = await http.PostAsJsonAsync("/v1/completions", new JsonObject { ["model"] = "bench", ["prompt"] = prompts[i], ["max_tokens"] = max, ["temperature"] = 0 }, ct);
                        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
                        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"bench serve: request {i}: {body.ToJsonString()}");
                        Interlocked.Add(ref served, body["usage"]!["completion_tokens"]!.GetValue<long>());
                        perRequest[i] = one.Elapsed.TotalMilliseconds;
                    });
                    Print(preset.Name, "serve", clients, n, served, served / clock.Elapsed.TotalSeconds, [.. perRequest], sequential);
                }
            }
            finally
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
            return 0;
        });
        return cmd;
    }

    private static void Print(string config, string mode, int clients, int requests, long tokens, double tokensPerSecond, IReadOnlyList<double> latencies, double sequential)
    {
        var sorted = latencies.Order().ToList();
        double Quantile(double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
        Console.Out.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "serve", config, mode, clients, requests, completion_tokens = tokens,
            tokens_per_s = Math.Round(tokensPerSecond, 1), p50_ms = Math.Round(Quantile(0.5), 1), p95_ms = Math.Round(Quantile(0.95), 1),
            vs_sequential = Math.Round(tokensPerSecond / sequential, 2),
        }));
    }
}
