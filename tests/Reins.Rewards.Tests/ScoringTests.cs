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

    [Fact]
    public void AggregationsTakeTheMinimumOrASoftMinimumBetweenItAndTheMean()
    {
        float[] scores = [1f, -2f, 3f, /* row 2 */ 0.5f, 0.5f, 0.5f];
        float[] weights = [1f / 3, 1f / 3, 1f / 3];
        Assert.Equal([-2f, 0.5f], Scoring.RewardAggregation.Parse("min").Apply(scores, weights));
        Assert.Equal(Scoring.RewardAggregation.Parse("mean").Apply(scores, weights), new[] { 2f / 3, 0.5f });
        // The soft minimum lies between the minimum and the mean, approaches each at its end of τ, and leaves equal outputs as they are.
        float Soft(float tau) => Scoring.RewardAggregation.Parse($"softmin:{tau.ToString(System.Globalization.CultureInfo.InvariantCulture)}").Apply(scores, weights)[0];
        Assert.InRange(Soft(1), -2f, 2f / 3);
        Assert.Equal(-2f, Soft(0.001f), 2);
        Assert.True(Math.Abs(Soft(10000f) - 2f / 3) < 1e-3, $"{Soft(10000f)}");
        Assert.True(Soft(0.5f) < Soft(1) && Soft(1) < Soft(4));
        Assert.Equal(0.5f, Scoring.RewardAggregation.Parse("softmin:0.3").Apply(scores, weights)[1], 5);
        // −τ·log((1/K)·Σ exp(−r/τ)) by hand for τ = 1.
        Assert.Equal(-Math.Log((Math.Exp(-1) + Math.Exp(2) + Math.Exp(-3)) / 3), Soft(1), 4);
        foreach (var bad in new[] { "max", "softmin:0", "softmin:x" })
            Assert.Throws<ArgumentException>(() => Scoring.RewardAggregation.Parse(bad));
        Assert.Throws<ArgumentException>(() => new Scoring.RewardScoringOptions { Weights = new Dictionary<string, float> { ["a"] = 1 }, Aggregation = Scoring.RewardAggregation.Parse("min") }.Validate());
    }
}
