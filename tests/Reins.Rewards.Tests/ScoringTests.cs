using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Rewards.Tests;

/// <summary>Scoring files and requests: outputs stay aligned with inputs however the scorer batches them.</summary>
public class ScoringTests
{
    public ScoringTests() => Engine.Threads = 1;

    private static readonly Dictionary<string, JsonElement> NoExtra = [];

    private static RewardModel RandomRewardModel(int labels = 1)
    {
        var network = CausalLanguageModel.Create(TinySetup.Config with { NumLabels = labels, PadTokenId = 258 }, seed: 3);
        var names = RewardModel.DefaultLabels(labels);
        return new RewardModel(network, normalization: new RewardNormalization(names, [.. Enumerable.Repeat(0.05f, labels)], [.. Enumerable.Repeat(0.02f, labels)], 10));
    }

    [Fact]
    public void ScoredFileIsAlignedWithItsRecordsAcrossBatchesAndChunks()
    {
        using var dir = new TempDirectory();
        var rng = new Rng(5);
        // 300 records cross a 256-record chunk; lengths 1–20 make length-sorted batches reorder them.
        var completions = Enumerable.Range(0, 300).Select(_ => TinySetup.RandomText(rng, "abcdefgh ", 1 + rng.NextInt(20))).ToArray();
        var input = dir.Path("in.jsonl");
        File.WriteAllLines(input, completions.Select((c, i) => new JsonObject { ["id"] = i, ["prompt"] = TinySetup.Prompt, ["completion"] = c }.ToJsonString()));
        var model = RandomRewardModel();
        var options = new RewardScoringOptions { BatchSize = 7 };
        var output = dir.Path("out.jsonl");
        int records = JsonlScoring.ScoreFile(input, output, TinySetup.Encoder, model.MaxLength, s => model.Score(s, options));

        Assert.Equal(300, records);
        var rows = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(300, rows.Length);
        // Each record scored alone, through the request path, must give the file's score for that line.
        var source = new RewardModelSource(model, TinySetup.Encoder, options with { BatchSize = 1 });
        var alone = source.Score([.. completions.Select(c => new ScoringRequest(TinySetup.Prompt, c, [], [], true, NoExtra))]);
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
        using var dir = new TempDirectory();
        var input = dir.Path("pairs.jsonl");
        File.WriteAllLines(input, TinySetup.PreferenceLines(5, seed: 6));
        var model = RandomRewardModel(labels: 2);
        var output = dir.Path("out.jsonl");
        JsonlScoring.ScoreFile(input, output, TinySetup.Encoder, model.MaxLength, s => model.Score(s, new RewardScoringOptions()));
        var inputs = File.ReadAllLines(input).Select(l => JsonNode.Parse(l)!).ToArray();
        var rows = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToArray();
        var source = new RewardModelSource(model, TinySetup.Encoder);
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal(inputs[i]["chosen"]!.GetValue<string>(), rows[i]["chosen"]!.GetValue<string>());
            Assert.Equal(inputs[i]["category"]!.GetValue<string>(), rows[i]["category"]!.GetValue<string>());
            var sides = source.Score([.. new[] { "chosen", "rejected" }.Select(side => new ScoringRequest(TinySetup.Prompt, inputs[i][side]!.GetValue<string>(), [], [], true, NoExtra))]);
            Assert.Equal(sides[0], rows[i]["score_chosen"]!.GetValue<float>(), 4);
            Assert.Equal(sides[1], rows[i]["score_rejected"]!.GetValue<float>(), 4);
            var details = rows[i]["scores_chosen"]!.AsObject();
            Assert.Equal(sides[0], (details["LABEL_0"]!.GetValue<float>() + details["LABEL_1"]!.GetValue<float>()) / 2, 4);
        }
    }

    [Fact]
    public void RequestsAsTokenIdsMatchTheirTextsAndUnfinishedCompletionsGetNoEos()
    {
        var model = RandomRewardModel();
        var texts = new RewardModelSource(model, TinySetup.Encoder);
        var ids = new RewardModelSource(model, TinySetup.Encoder, new RewardScoringOptions { UseRequestTokenIds = true });
        int[] prompt = [256, .. TinySetup.Encoder.Encode(TinySetup.Prompt)];
        int[] completion = TinySetup.Encoder.Encode("abcab");
        var finished = new ScoringRequest(TinySetup.Prompt, "abcab", prompt, [.. completion, 257], true, NoExtra);
        var unfinished = new ScoringRequest(TinySetup.Prompt, "abcab", prompt, completion, false, NoExtra);
        var byText = texts.Score([finished, unfinished]);
        var byIds = ids.Score([finished, unfinished]);
        Assert.Equal(byIds[0], byText[0], 5);
        Assert.Equal(byIds[1], byText[1], 5);
        Assert.NotEqual(byText[0], byText[1]);
        Assert.Equal("reward_model", texts.Name);
    }

    [Fact]
    public void SequencesLongerThanTheModelKeepTheirEnd()
    {
        var model = RandomRewardModel();
        var source = new RewardModelSource(model, TinySetup.Encoder);
        string tail = "abcdefghabcdefghabcdefghabcd";           // with EOS, 29 tokens: the last 29 of anything longer.
        var longOne = new ScoringRequest(new string('z', 40), tail, [], [], true, NoExtra);
        var scores = source.Score([longOne]);
        var expected = model.Score([new(([.. TinySetup.Encoder.Encode("zzz" + tail), 257]), [])], new RewardScoringOptions());
        Assert.Equal(expected.Rewards[0], scores[0], 5);
    }

    [Fact]
    public void RewardModelSavedAndLoadedScoresTheSame()
    {
        using var dir = new TempDirectory();
        var model = RandomRewardModel();
        HfCheckpoint.Save(model.Network, dir.Root, d => model.Normalization!.Save(d));
        var loaded = RewardModel.Load(dir.Root);
        var requests = new[] { "ab", "abcabc", "d" }.Select(c => new ScoringRequest(TinySetup.Prompt, c, [], [], true, NoExtra)).ToArray();
        Assert.Equal(new RewardModelSource(model, TinySetup.Encoder).Score(requests), new RewardModelSource(loaded, TinySetup.Encoder).Score(requests));
        Assert.Throws<InvalidDataException>(() => RewardModel.Load(Save(dir.Path("lm"), TinySetup.LanguageModel())));
    }

    private static string Save(string path, CausalLanguageModel model)
    {
        HfCheckpoint.Save(model, path);
        return path;
    }
}
