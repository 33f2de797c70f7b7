using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Cli.Commands;
using Reins.Cli.Commands.Training;
using Reins.Feedback.Tokenization;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Cli.Tests;

/// <summary>The JSONL streams of `reins tokenize` and `reins rm score`: one output line per input line, in order, whatever the batching.</summary>
public sealed class StreamFormatTests
{
    private const string Prompt = "q:";
    private static readonly Tokenizer Bytes = Tokenizer.CreateByteLevel(260);
    private static readonly ITextEncoder Encoder = new TokenizerEncoder(Bytes);
    private static readonly Dictionary<string, JsonElement> NoExtra = [];

    public StreamFormatTests() => Engine.Threads = 1;

    private sealed class Scratch : IDisposable
    {
        private readonly string root = Directory.CreateTempSubdirectory("reins-streams-").FullName;
        public string Path(string name) => System.IO.Path.Combine(root, name);
        public void Dispose() => Directory.Delete(root, recursive: true);
    }

    private static string RandomText(Rng rng, string alphabet, int length) => new([.. Enumerable.Range(0, length).Select(_ => alphabet[rng.NextInt(alphabet.Length)])]);

    // Preference records with distinct responses of 4–10 letters and a category field.
    private static string[] PreferenceLines(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, count).Select(i => new JsonObject
        {
            ["prompt"] = Prompt, ["chosen"] = RandomText(rng, "abcde", 4 + rng.NextInt(7)), ["rejected"] = RandomText(rng, "abcde", 4 + rng.NextInt(7)), ["category"] = i % 2 == 0 ? "easy" : "hard",
        }.ToJsonString())];
    }

    private static RewardModel RandomRewardModel(int labels = 1)
    {
        var config = ModelConfig.Gpt2(vocab: 260, hidden: 32, layers: 2, heads: 2, maxPositions: 32) with { BosTokenId = 256, EosTokenId = 257, NumLabels = labels, PadTokenId = 258 };
        var names = RewardModel.DefaultLabels(labels);
        return new RewardModel(CausalLanguageModel.Create(config, seed: 3), normalization: new RewardNormalization(names, [.. Enumerable.Repeat(0.05f, labels)], [.. Enumerable.Repeat(0.02f, labels)], 10));
    }

    [Fact]
    public void ScoredFileIsAlignedWithItsRecordsAcrossBatchesAndChunks()
    {
        using var dir = new Scratch();
        var rng = new Rng(5);
        // 300 records cross a 256-record chunk; lengths 1–20 make length-sorted batches reorder them.
        var completions = Enumerable.Range(0, 300).Select(_ => RandomText(rng, "abcdefgh ", 1 + rng.NextInt(20))).ToArray();
        var input = dir.Path("in.jsonl");
        File.WriteAllLines(input, completions.Select((c, i) => new JsonObject { ["id"] = i, ["prompt"] = Prompt, ["completion"] = c }.ToJsonString()));
        var model = RandomRewardModel();
        var options = new RewardScoringOptions { BatchSize = 7 };
        var output = dir.Path("out.jsonl");
        int records = JsonlScoring.ScoreFile(input, output, Encoder, model.MaxLength, s => model.Score(s, options));

        Assert.Equal(300, records);
        var rows = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(300, rows.Length);
        // Each record scored alone, through the request path, must give the file's score for that line.
        var source = new RewardModelSource(model, Encoder, options with { BatchSize = 1 });
        var alone = source.Score([.. completions.Select(c => new ScoringRequest(Prompt, c, [], [], true, NoExtra))]);
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal(i, rows[i]["id"]!.GetValue<int>());
            Assert.Equal(completions[i], rows[i]["completion"]!.GetValue<string>());
            Assert.Equal(alone[i], rows[i]["score"]!.GetValue<float>(), 4);
        }
        Assert.True(alone.Distinct().Count() > 250, "distinct completions should score differently");
    }

    [Fact]
    public void PreferenceFilesGetChosenAndRejectedScoresAndMultiAttributeDetails()
    {
        using var dir = new Scratch();
        var input = dir.Path("pairs.jsonl");
        File.WriteAllLines(input, PreferenceLines(5, seed: 6));
        var model = RandomRewardModel(labels: 2);
        var output = dir.Path("out.jsonl");
        JsonlScoring.ScoreFile(input, output, Encoder, model.MaxLength, s => model.Score(s, new RewardScoringOptions()));
        var inputs = File.ReadAllLines(input).Select(l => JsonNode.Parse(l)!).ToArray();
        var rows = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToArray();
        var source = new RewardModelSource(model, Encoder);
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal(inputs[i]["chosen"]!.GetValue<string>(), rows[i]["chosen"]!.GetValue<string>());
            Assert.Equal(inputs[i]["category"]!.GetValue<string>(), rows[i]["category"]!.GetValue<string>());
            var sides = source.Score([.. new[] { "chosen", "rejected" }.Select(side => new ScoringRequest(Prompt, inputs[i][side]!.GetValue<string>(), [], [], true, NoExtra))]);
            Assert.Equal(sides[0], rows[i]["score_chosen"]!.GetValue<float>(), 4);
            Assert.Equal(sides[1], rows[i]["score_rejected"]!.GetValue<float>(), 4);
            var details = rows[i]["scores_chosen"]!.AsObject();
            Assert.Equal(sides[0], (details["LABEL_0"]!.GetValue<float>() + details["LABEL_1"]!.GetValue<float>()) / 2, 4);
        }
    }

    [Fact]
    public void TokenizeStreamKeepsOneOutputLinePerInputLine()
    {
        var tokenizer = Tokenizer.CreateByteLevel(259);
        // Line 7 escapes a lone surrogate, line 8 has a byte that is not UTF-8: each an error line, not a crash or U+FFFD.
        var input = new MemoryStream([.. Encoding.UTF8.GetBytes("{\"text\": \"hi\"}\nnot json\n{\"other\": 1}\n{\"text\": 5}\n\n{\"text\": \"é\"}\n{\"text\": \"a\\ud800\"}\n{\"text\": \"a"),
            0xFF, .. Encoding.UTF8.GetBytes("\"}\r\n{\"text\": \"b\"}")]);
        var output = new StringWriter();
        int errors = JsonlTokenization.Run(tokenizer, input, output, addSpecialTokens: true);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(9, lines.Length);
        Assert.Equal(6, errors);
        Assert.Equal("{\"ids\":[256,104,105]}", lines[0]);
        Assert.StartsWith("{\"error\":\"line 2: not valid JSON", lines[1]);
        Assert.Equal("{\"error\":\"line 3: missing field \\\"text\\\"\"}", lines[2]);
        Assert.StartsWith("{\"error\":\"line 4: field \\\"text\\\" is Number", lines[3]);
        Assert.StartsWith("{\"error\":\"line 5:", lines[4]);
        Assert.Equal("{\"ids\":[256,195,169]}", lines[5]);
        Assert.StartsWith("{\"error\":\"line 7: field \\\"text\\\" holds a lone surrogate", lines[6]);
        Assert.StartsWith("{\"error\":\"line 8: not valid UTF-8 at byte 12", lines[7]);
        Assert.Equal("{\"ids\":[256,98]}", lines[8]);
    }
}
