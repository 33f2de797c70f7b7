using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Reins.Cli.Demo;
using Reins.Models.Tokenizers;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins bench tokenize`: single-thread encoding throughput on generated English prose, in MB of UTF-8 per second.
/// The first pass (empty pre-token cache) is reported as cold; the main figure is the best later pass.
/// </summary>
internal static class TokenizeBench
{
    public static Command Create()
    {
        var path = new Option<string?>("--tokenizer") { Description = "tokenizer.json or its directory (default: a byte-level BPE of 8192 ids trained on the first 1 MB of the sample)." };
        var megabytes = new Option<int>("--megabytes") { Description = "Size of the generated sample.", DefaultValueFactory = _ => 4 };
        var seconds = new Option<double>("--seconds") { Description = "Minimum timed duration after the cold pass.", DefaultValueFactory = _ => 5 };
        var cmd = new Command("tokenize", "Encoding MB/s on one thread.") { path, megabytes, seconds };
        cmd.SetAction(r => Run(r.GetValue(path), r.GetValue(megabytes), r.GetValue(seconds)));
        return cmd;
    }

    private static void Run(string? path, int megabytes, double minSeconds)
    {
        var text = EnglishSample.Generate(megabytes << 20, seed: 1);
        var documents = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Tokenizer tokenizer;
        string name;
        if (path is null)
        {
            tokenizer = Tokenizer.TrainByteLevelBpe(documents.Take(documents.Length / Math.Max(1, megabytes)), 8192, ["<|endoftext|>"]);
            name = "trained-bytelevel-8192";
        }
        else
        {
            tokenizer = Tokenizer.Load(path);
            name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));
        }
        double megabytesOfText = documents.Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d)) / 1e6;
        long tokens = 0;
        double Pass()
        {
            var sw = Stopwatch.StartNew();
            tokens = 0;
            foreach (var document in documents) tokens += tokenizer.Encode(document).Length;
            return sw.Elapsed.TotalSeconds;
        }
        double cold = Pass(), best = double.MaxValue;
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < minSeconds) best = Math.Min(best, Pass());
        Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["bench"] = "tokenize", ["tokenizer"] = name, ["mb_per_s"] = Math.Round(megabytesOfText / best, 2),
            ["cold_mb_per_s"] = Math.Round(megabytesOfText / cold, 2), ["threads"] = 1, ["mb"] = Math.Round(megabytesOfText, 2),
            ["tokens"] = tokens, ["bytes_per_token"] = Math.Round(megabytesOfText * 1e6 / tokens, 2),
        }));
    }
}
