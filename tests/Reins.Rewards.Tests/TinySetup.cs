using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Alignment.RewardModeling;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Rewards.Tests;

/// <summary>
/// A tiny GPT-2 over a byte-level vocabulary (BOS 256, EOS 257, PAD 258) and synthetic data whose labels come from a
/// known rule: a response with more of the letter 'a' is preferred, and a response's ratings count its letters.
/// </summary>
internal static class TinySetup
{
    public static readonly Tokenizer Tokenizer = Tokenizer.CreateByteLevel(260);
    public static readonly ITextEncoder Encoder = new TokenizerEncoder(Tokenizer);

    public const string Prompt = "q:";

    public static ModelConfig Config => ModelConfig.Gpt2(vocab: 260, hidden: 32, layers: 2, heads: 2, maxPositions: 32) with { BosTokenId = 256, EosTokenId = 257 };

    public static CausalLanguageModel LanguageModel(ulong seed = 7) => CausalLanguageModel.Create(Config, seed);

    public static RewardConfig Training(string outputDir, int steps = 150) => new()
    {
        Training = new()
        {
            OutputDir = outputDir, MaxSteps = steps, LearningRate = 3e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 16,
            PerDeviceEvalBatchSize = 64, LoggingSteps = 25, Seed = 1,
        },
        MaxLength = 32,
    };

    /// <summary><paramref name="config"/> with its training arguments changed by <paramref name="change"/>.</summary>
    public static RewardConfig With(this RewardConfig config, Func<TrainingArguments, TrainingArguments> change) => config with { Training = change(config.Training) };

    public static string RandomText(Rng rng, string alphabet, int length) =>
        new([.. Enumerable.Range(0, length).Select(_ => alphabet[rng.NextInt(alphabet.Length)])]);

    public static int Count(string text, char letter) => text.Count(c => c == letter);

    /// <summary>
    /// JSONL preference records under the letter rule, responses of <paramref name="minLength"/> to
    /// <paramref name="maxLength"/> letters (so batches need padding and counts are not fractions); pairs whose counts
    /// differ by 2 or more are "easy", by 1 "hard".
    /// </summary>
    public static string[] PreferenceLines(int count, ulong seed, string alphabet = "abcde", int minLength = 4, int maxLength = 10)
    {
        var rng = new Rng(seed);
        var lines = new List<string>();
        while (lines.Count < count)
        {
            string x = RandomText(rng, alphabet, minLength + rng.NextInt(maxLength - minLength + 1));
            string y = RandomText(rng, alphabet, minLength + rng.NextInt(maxLength - minLength + 1));
            int cx = Count(x, 'a'), cy = Count(y, 'a');
            if (cx == cy) continue;
            var (chosen, rejected) = cx > cy ? (x, y) : (y, x);
            lines.Add(new JsonObject
            {
                ["prompt"] = Prompt, ["chosen"] = chosen, ["rejected"] = rejected, ["category"] = Math.Abs(cx - cy) >= 2 ? "easy" : "hard",
            }.ToJsonString());
        }
        return [.. lines];
    }

    /// <summary>JSONL rating records: "a" and "b" are the counts of those letters in the response.</summary>
    public static string[] RatingLines(int count, ulong seed, int length = 8)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            string text = RandomText(rng, "abcd", length);
            return new JsonObject { ["prompt"] = Prompt, ["response"] = text, ["a"] = Count(text, 'a'), ["b"] = Count(text, 'b') }.ToJsonString();
        })];
    }

    public static IReadOnlyList<T> Load<T>(TempDirectory dir, string name, string[] lines) where T : Example
    {
        var path = dir.Path(name);
        File.WriteAllLines(path, lines);
        return JsonlDatasetReader.Load<T>(path).Examples;
    }

    /// <summary>The metrics.jsonl rows of a run.</summary>
    public static List<JsonObject> Metrics(string runDirectory) =>
        [.. File.ReadAllLines(Path.Combine(runDirectory, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject())];

    public static double Value(JsonObject row, string key) =>
        row[key]?.GetValue<double>() ?? throw new KeyNotFoundException($"metrics row {row.ToJsonString()} has no '{key}'.");

    public static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}

/// <summary>A scratch directory removed afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Root { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "reins-rewards-" + Guid.NewGuid().ToString("N"));

    public TempDirectory() => Directory.CreateDirectory(Root);

    public string Path(string name) => System.IO.Path.Combine(Root, name);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
