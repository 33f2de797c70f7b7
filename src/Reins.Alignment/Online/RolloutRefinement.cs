using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;

namespace Reins.Alignment.Online;

/// <summary>Scored completions after a refinement stage, and which rows it replaced with samples the policy did not draw for their prompt.</summary>
/// <param name="Scored">The completions, G adjacent per prompt as before, some replaced.</param>
/// <param name="OffPolicy">Per row, whether it was replaced (its tokens were sampled in another context).</param>
public sealed record RefinedCompletions(ScoredCompletions Scored, bool[] OffPolicy);

/// <summary>
/// A stage a <see cref="RolloutPlan"/> may add between scoring and the rollout's layout, which replaces some of a
/// group's samples with ones made another way (Critique-GRPO's critique-guided refinements). A replaced row keeps its
/// prompt: its tokens are scored, and learned from, as an answer to that prompt.
/// </summary>
public interface IRolloutRefinement
{
    /// <summary>
    /// The batch's completions with some rows replaced; <paramref name="options"/> are the step's sampling options
    /// (their seed is the step's), <paramref name="metrics"/> takes what the stage shows.
    /// </summary>
    RefinedCompletions Refine(CausalLanguageModel policy, IReadOnlyList<TokenizedPrompt> batch, ScoredCompletions scored, CompletionSampler sampler,
        SamplingOptions options, float? missingEosPenalty, Dictionary<string, double> metrics, CancellationToken cancellation);
}
