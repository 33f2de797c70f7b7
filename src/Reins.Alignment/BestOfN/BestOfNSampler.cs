using Reins.Alignment.Online;
using Reins.Feedback.Datasets;
using Reins.Models.Generation;
using Reins.Models.Transformers;

namespace Reins.Alignment.BestOfN;

/// <summary>One kept completion of best-of-n: its prompt record, the sample, its reward (and each source's), and its rank among the n.</summary>
public sealed record BestOfNCompletion(PromptOnlyExample Source, GeneratedSequence Sample, float Reward, IReadOnlyDictionary<string, float> Rewards, int Rank);

/// <summary>
/// Best-of-n sampling (Nakano et al. 2021, WebGPT §3.3; TRL's BestOfNSampler): n completions of each prompt, ranked by
/// reward, the best kept. On its own it buys quality with compute at inference time; its output, a prompt–completion
/// dataset, is what rejection-sampling fine-tuning trains on.
/// </summary>
public static class BestOfNSampler
{
    /// <summary>
    /// The best <paramref name="keepTop"/> of <see cref="SamplingOptions.NumReturnSequences"/> completions of each prompt,
    /// best first, prompt by prompt, <paramref name="promptsPerBatch"/> prompts per generation call. Each prompt's seed
    /// comes from its position in <paramref name="prompts"/>, so its samples do not depend on the batching.
    /// </summary>
    public static IEnumerable<BestOfNCompletion> Sample(CausalLanguageModel policy, CompletionSampler sampler, IReadOnlyList<PromptOnlyExample> prompts,
        SamplingOptions options, int keepTop, int promptsPerBatch, float? missingEosPenalty = null, CancellationToken cancellation = default)
    {
        if (keepTop < 1 || keepTop > options.NumReturnSequences) throw new ArgumentException($"best-of-n: keep {keepTop} of {options.NumReturnSequences} samples per prompt?");
        int n = options.NumReturnSequences;
        for (int start = 0; start < prompts.Count && !cancellation.IsCancellationRequested; start += promptsPerBatch)
        {
            var batch = sampler.Tokenize([.. prompts.Skip(start).Take(promptsPerBatch)]);
            ScoredCompletions scored;
            try { scored = sampler.Sample(policy, batch, CompletionSampler.SeededByPrompt(options, start, batch.Count), missingEosPenalty, cancellation); }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { break; }
            for (int p = 0; p < batch.Count; p++)
            {
                var ranked = Top(scored.Scores.AsSpan(p * n, n), keepTop);
                for (int rank = 0; rank < ranked.Length; rank++)
                {
                    int row = p * n + ranked[rank];
                    yield return new BestOfNCompletion(batch[p].Source, scored.Samples[row], scored.Scores[row],
                        scored.Components.ToDictionary(c => c.Name, c => c.Scores[row]), rank);
                }
            }
        }
    }

    /// <summary>Indices of the <paramref name="k"/> highest scores, best first; ties keep the earlier sample first.</summary>
    public static int[] Top(ReadOnlySpan<float> scores, int k)
    {
        var values = scores.ToArray();
        return [.. Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).ThenBy(i => i).Take(k)];
    }
}
