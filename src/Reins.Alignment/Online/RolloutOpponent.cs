using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Tensors.Distributed;

namespace Reins.Alignment.Online;

/// <summary>
/// A stage a <see cref="RolloutPlan"/> may add after sampling: one opponent completion per prompt that the method
/// compares the policy's samples with, sampled and scored like them (seeded apart from them, so the policy's samples
/// do not change).
/// </summary>
public interface IRolloutOpponent
{
    /// <summary>One scored opponent completion for each prompt of <paramref name="batch"/>, in prompt order.</summary>
    ScoredCompletions Sample(CausalLanguageModel policy, CausalLanguageModel? reference, IReadOnlyList<TokenizedPrompt> batch, CompletionSampler sampler,
        SamplingOptions options, float? missingEosPenalty, CancellationToken cancellation);
}

/// <summary>Nash-MD's opponent: a sample of the geometric mixture of the current policy and the reference, α the reference's weight.</summary>
public sealed class MixtureOpponent(float coefficient) : IRolloutOpponent
{
    /// <inheritdoc/>
    public ScoredCompletions Sample(CausalLanguageModel policy, CausalLanguageModel? reference, IReadOnlyList<TokenizedPrompt> batch, CompletionSampler sampler,
        SamplingOptions options, float? missingEosPenalty, CancellationToken cancellation)
    {
        var mixture = new GeometricMixture(reference ?? throw new ArgumentException("mixture opponent: the geometric mixture needs a reference model."), coefficient);
        return World.IsDistributed
            ? ShardedRollout.SampleAndScore(sampler, policy, batch, options, missingEosPenalty, steps: false, mixture)
            : sampler.Score(batch, sampler.Generate(policy, batch, options, mixture), missingEosPenalty, cancellation);
    }
}
