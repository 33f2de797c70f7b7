using Reins.Rewards.Sources;
using Reins.Alignment.Online;
using Reins.Feedback.Datasets;
using Reins.Models.Generation;
using Reins.Models.Transformers;

namespace Reins.Alignment.BestOfN;

/// <summary>
/// One kept completion of best-of-n: its prompt record, the sample, its reward (and each source's), its rank among the
/// n, and with voting the votes its final answer won (a count, or the summed rewards).
/// </summary>
public sealed record BestOfNCompletion(PromptOnlyExample Source, GeneratedSequence Sample, float Reward, IReadOnlyDictionary<string, float> Rewards, int Rank, double? Votes = null);

/// <summary>How best-of-n picks among its n samples.</summary>
public enum Voting
{
    /// <summary>The highest reward.</summary>
    None,
    /// <summary>The most frequent final answer (self-consistency, Wang et al. 2023); its highest-reward sample is kept.</summary>
    Majority,
    /// <summary>The final answer with the largest summed reward (PRM-weighted voting, Uesato et al. 2022; Li et al. 2023).</summary>
    Weighted,
}

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
        SamplingOptions options, int keepTop, int promptsPerBatch, float? missingEosPenalty = null, CancellationToken cancellation = default, Voting voting = Voting.None)
    {
        if (keepTop < 1 || keepTop > options.NumReturnSequences) throw new ArgumentException($"best-of-n: keep {keepTop} of {options.NumReturnSequences} samples per prompt?");
        if (voting != Voting.None && keepTop != 1) throw new ArgumentException($"best-of-n: voting keeps one completion per prompt, not {keepTop}.");
        int n = options.NumReturnSequences;
        for (int start = 0; start < prompts.Count && !cancellation.IsCancellationRequested; start += promptsPerBatch)
        {
            var batch = sampler.Tokenize([.. prompts.Skip(start).Take(promptsPerBatch)]);
            ScoredCompletions scored;
            try { scored = sampler.Sample(policy, batch, CompletionSampler.SeededByPrompt(options, start, batch.Count), missingEosPenalty, cancellation); }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { break; }
            for (int p = 0; p < batch.Count; p++)
            {
                if (voting != Voting.None)
                {
                    var (winner, votes) = Vote([.. scored.Samples.Skip(p * n).Take(n).Select(s => VerifiableRewards.ExtractAnswer(s.Text!))], scored.Scores.AsSpan(p * n, n), voting == Voting.Weighted);
                    int chosen = p * n + winner;
                    yield return new BestOfNCompletion(batch[p].Source, scored.Samples[chosen], scored.Scores[chosen],
                        scored.Components.ToDictionary(c => c.Name, c => c.Scores[chosen]), 0, votes);
                    continue;
                }
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

    /// <summary>
    /// The sample voting picks: the answer with the most votes (one per sample, or its score when
    /// <paramref name="weighted"/>; ties go to the answer first seen), then that answer's highest-scored sample. Weighted
    /// voting needs scores that are not negative (a PRM's probabilities, a verifier's 0/1).
    /// </summary>
    public static (int Index, double Votes) Vote(IReadOnlyList<string> answers, ReadOnlySpan<float> scores, bool weighted)
    {
        var tally = new Dictionary<string, double>();
        var order = new List<string>();
        for (int i = 0; i < answers.Count; i++)
        {
            if (weighted && !(scores[i] >= 0)) throw new ArgumentException($"best-of-n: weighted voting sums scores, which must not be negative; sample {i} scored {scores[i]}.");
            if (!tally.ContainsKey(answers[i])) order.Add(answers[i]);
            tally[answers[i]] = tally.GetValueOrDefault(answers[i]) + (weighted ? scores[i] : 1);
        }
        string best = order.Aggregate((a, b) => tally[b] > tally[a] ? b : a);
        int index = -1;
        for (int i = 0; i < answers.Count; i++)
            if (answers[i] == best && (index < 0 || scores[i] > scores[index])) index = i;
        return (index, tally[best]);
    }

    /// <summary>Indices of the <paramref name="k"/> highest scores, best first; ties keep the earlier sample first.</summary>
    public static int[] Top(ReadOnlySpan<float> scores, int k)
    {
        var values = scores.ToArray();
        return [.. Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).ThenBy(i => i).Take(k)];
    }
}
