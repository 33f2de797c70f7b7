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
