using System.Text.Json;
using System.Text.Json.Serialization;
using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors.Distributed;

namespace Reins.Alignment.Online;

/// <summary>
/// A step's rollouts in a data-parallel run: each rank samples and scores a contiguous share of the step's prompts (a
/// prompt's samples stay together on one rank), each prompt seeded as one process seeds it, and every rank then holds
/// all of them in prompt order, so advantages, shuffles and the update are those of one process. Generation and
/// scoring, the slow stages, run once per sample instead of once per rank.
/// </summary>
internal static class ShardedRollout
{
    /// <summary>
    /// The samples of <paramref name="prompts"/> under <paramref name="options"/> and their scores, gathered from every
    /// rank's share, as <see cref="CompletionSampler.Sample"/> gives them in one process; with <paramref name="mixture"/>,
    /// drawn from the geometric mixture of the policy and its reference (Nash-MD's opponents).
    /// </summary>
    public static ScoredCompletions SampleAndScore(CompletionSampler completions, CausalLanguageModel policy, IReadOnlyList<TokenizedPrompt> prompts,
        SamplingOptions options, float? missingEosPenalty, bool steps, GeometricMixture? mixture = null)
    {
        // Shares differ by at most one prompt when the ranks do not divide the prompts.
        int first = prompts.Count * World.Rank / World.Size, share = prompts.Count * (World.Rank + 1) / World.Size - first;
        var mine = prompts.Skip(first).Take(share).ToArray();
        var local = new Shard([], [], [], null);
        if (share > 0)
        {
            var samples = completions.Generate(policy, mine, options with { PromptSeeds = [.. Enumerable.Range(first, share).Select(options.PromptSeed)] }, mixture);
            // No cancellation here: every rank must reach the exchange, and the step is stopped at the next one instead.
            var scored = completions.Score(mine, samples, missingEosPenalty, steps: steps);
            local = new Shard([.. samples.Select(s => new Sample(first + s.PromptIndex, s.SampleIndex, s.PromptIds, s.Tokens, s.LogProbs, s.FinishReason, s.Text))],
                scored.Scores, [.. scored.Components.Select(c => new Component(c.Name, c.Scores))], scored.Steps?.Select(x => new Step(x.TokenRewards, x.ScorePart)).ToList());
        }
        var shards = World.Gather(JsonSerializer.Serialize(local, ShardJson.Default.Shard)).Select(j => JsonSerializer.Deserialize(j, ShardJson.Default.Shard)!)
            .Where(x => x.Samples.Count > 0).ToArray();
        var all = shards.SelectMany(x => x.Samples).Select(s => new GeneratedSequence(s.PromptIndex, s.SampleIndex, s.PromptIds, s.Tokens, s.LogProbs, s.FinishReason) { Text = s.Text }).ToList();
        var components = shards[0].Components.Select((c, k) => new RewardComponent(c.Name, [.. shards.SelectMany(x => x.Components[k].Scores)])).ToList();
        var stepRewards = shards[0].Steps is null ? null : shards.SelectMany(x => x.Steps!).Select(x => (x.TokenRewards, x.ScorePart)).ToList();
        return new ScoredCompletions(all, completions.Requests(prompts, all), [.. shards.SelectMany(x => x.Scores)], components, stepRewards);
    }

    internal sealed record Sample(int PromptIndex, int SampleIndex, int[] PromptIds, int[] Tokens, float[] LogProbs, FinishReason FinishReason, string? Text);

    internal sealed record Component(string Name, float[] Scores);

    internal sealed record Step(float[] TokenRewards, float ScorePart);

    internal sealed record Shard(List<Sample> Samples, float[] Scores, List<Component> Components, List<Step>? Steps);
}

// Floats round-trip through System.Text.Json's shortest form; a source may answer NaN where it does not apply.
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(ShardedRollout.Shard))]
internal sealed partial class ShardJson : JsonSerializerContext;
