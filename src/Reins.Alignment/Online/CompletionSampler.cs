using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Online;

/// <summary>Sampled completions of a batch of prompts (G adjacent per prompt) and their rewards.</summary>
/// <param name="Samples">As <see cref="Generator"/> returns them.</param>
/// <param name="Requests">What the reward saw of each sample (texts, ids, whether it finished, the record's fields).</param>
/// <param name="Scores">The weighted reward of each, after the missing-EOS penalty.</param>
/// <param name="Components">Each reward source's own scores.</param>
/// <param name="Steps">When step rewards were asked for and a source gives them: per sample, the (weighted) reward due at each of its tokens, and the part of its score those rewards replace.</param>
public sealed record ScoredCompletions(IReadOnlyList<GeneratedSequence> Samples, IReadOnlyList<ScoringRequest> Requests, float[] Scores, IReadOnlyList<RewardComponent> Components,
    IReadOnlyList<(float[] TokenRewards, float ScorePart)>? Steps = null);

/// <summary>
/// Samples completions of prompt records with a policy and scores them: the first stage of every online method, and
/// the whole of best-of-n. Completions stop at EOS; the reward sees each prompt's text, the completion's text and ids,
/// whether it finished, and every extra field of its record.
/// </summary>
public sealed class CompletionSampler
{
    private readonly DatasetTokenizer tokenizer;
    private readonly Func<int[], string> decode;
    private readonly WeightedRewardSum reward;

    /// <summary>A sampler for prompts of up to <paramref name="maxPromptLength"/> tokens (longer ones keep their end).</summary>
    public CompletionSampler(ITextEncoder encoder, Func<int[], string> decode, IRewardSource reward, int maxPromptLength)
    {
        EosId = encoder.EosId ?? throw new ArgumentException("the tokenizer has no EOS id, so completions could never finish.", nameof(encoder));
        PadId = PaddingOptions.For(encoder).PadId;
        tokenizer = new DatasetTokenizer(encoder, new TokenizationOptions { MaxLength = null, MaxPromptLength = maxPromptLength });
        this.decode = decode;
        this.reward = reward as WeightedRewardSum ?? new WeightedRewardSum([(reward, 1f)]);
    }

    /// <summary>The id that ends a completion.</summary>
    public int EosId { get; }
    /// <summary>The id written into padding.</summary>
    public int PadId { get; }
    /// <summary>What tokenisation reported about the prompts so far.</summary>
    public TokenizationReport Report => tokenizer.Report;

    /// <summary>The prompts as the policy sees them (conversations end with the assistant header); dropped records are counted in <see cref="Report"/>.</summary>
    public IReadOnlyList<TokenizedPrompt> Tokenize(IReadOnlyList<PromptOnlyExample> prompts) => [.. prompts.Select(tokenizer.Prompt).OfType<TokenizedPrompt>()];

    /// <summary>
    /// Samples <see cref="SamplingOptions.NumReturnSequences"/> completions of each prompt and scores them. With
    /// <paramref name="missingEosPenalty"/>, a completion cut off by the length cap scores that much less (TRL's
    /// "EOS trick"), so a policy learns to finish rather than being paid for whatever text the cap left.
    /// </summary>
    public ScoredCompletions Sample(CausalLanguageModel policy, IReadOnlyList<TokenizedPrompt> prompts, SamplingOptions options, float? missingEosPenalty,
        CancellationToken cancellation = default) =>
        Score(prompts, Generate(policy, prompts, options), missingEosPenalty, cancellation);

    /// <summary>
    /// The first half of <see cref="Sample"/>: completions of each prompt, stopping at EOS, decoded; with
    /// <paramref name="mixture"/>, drawn from the geometric mixture of the policy and its reference.
    /// </summary>
    public IReadOnlyList<GeneratedSequence> Generate(CausalLanguageModel policy, IReadOnlyList<TokenizedPrompt> prompts, SamplingOptions options, GeometricMixture? mixture = null) =>
        Generator.Generate(policy, [.. prompts.Select(p => p.InputIds)], options with { StopTokenIds = [EosId] }, decode, mixture: mixture);

    /// <summary>
    /// Completions of every prompt, <paramref name="promptsPerCall"/> prompts per generation call. Prompt i's samples are
    /// drawn from seed <see cref="SamplingOptions.Seed"/> · 1 000 003 + i (<see cref="SeededByPrompt"/>), so the batching
    /// does not change them, and their <see cref="GeneratedSequence.PromptIndex"/> counts in <paramref name="prompts"/>.
    /// </summary>
    public IReadOnlyList<GeneratedSequence> GenerateAll(CausalLanguageModel policy, IReadOnlyList<TokenizedPrompt> prompts, SamplingOptions options, int promptsPerCall)
    {
        var samples = new List<GeneratedSequence>(prompts.Count * options.NumReturnSequences);
        for (int start = 0; start < prompts.Count; start += promptsPerCall)
        {
            var batch = prompts.Skip(start).Take(promptsPerCall).ToArray();
            // The generator numbers prompts within its call.
            samples.AddRange(Generate(policy, batch, SeededByPrompt(options, start, batch.Length)).Select(s => s with { PromptIndex = start + s.PromptIndex }));
        }
        return samples;
    }

    /// <summary><paramref name="options"/> with prompts <paramref name="first"/>…<paramref name="first"/> + <paramref name="count"/> − 1 each seeded by its index.</summary>
    public static SamplingOptions SeededByPrompt(SamplingOptions options, int first, int count) =>
        options with { PromptSeeds = [.. Enumerable.Range(first, count).Select(i => options.Seed * 1_000_003UL + (ulong)i)] };

    /// <summary>The second half of <see cref="Sample"/>: the reward of each sample of <paramref name="prompts"/>, less the missing-EOS penalty.</summary>
    /// With <paramref name="steps"/>, the step rewards of the sources that give them are placed on the tokens where
    /// their steps end (<see cref="ScoredCompletions.Steps"/>).
    public ScoredCompletions Score(IReadOnlyList<TokenizedPrompt> prompts, IReadOnlyList<GeneratedSequence> samples, float? missingEosPenalty,
        CancellationToken cancellation = default, bool steps = false)
    {
        var requests = Requests(prompts, samples);
        var (scores, components, stepRewards) = reward.ScoreWithSteps(requests, steps, cancellation);
        if (missingEosPenalty is { } penalty)
            for (int i = 0; i < scores.Length; i++)
                if (!requests[i].Finished) scores[i] -= penalty;
        var placed = stepRewards?.Select((r, i) => (PlaceOnTokens(samples[i].Tokens, r), r.Score)).ToArray();
        return new ScoredCompletions(samples, requests, scores, components, placed);
    }

    /// <summary>What a reward source is asked about each sample: its prompt record's text (or its decoded ids) and extra fields, and the completion.</summary>
    public ScoringRequest[] Requests(IReadOnlyList<TokenizedPrompt> prompts, IReadOnlyList<GeneratedSequence> samples) =>
        [.. samples.Select(s => new ScoringRequest(prompts[s.PromptIndex].Source.Prompt.Text ?? decode(s.PromptIds), s.Text!,
            s.PromptIds, s.Tokens, s.FinishReason == FinishReason.Stop, prompts[s.PromptIndex].Source.Extra))];

    /// <summary>
    /// Step rewards on the tokens that complete their steps: step k's reward goes to the first token whose decoded
    /// prefix reaches the step's end (the last token when the text ends first), as a step's label sits on its last token.
    /// </summary>
    public float[] PlaceOnTokens(int[] tokens, StepRewards steps)
    {
        var placed = new float[tokens.Length];
        if (tokens.Length == 0) return placed;
        // Decoded prefix lengths grow with the prefix; byte-level pieces of one character may decode to nothing until complete.
        var lengths = new int[tokens.Length];
        for (int t = 0; t < tokens.Length; t++) lengths[t] = decode(tokens[..(t + 1)]).Length;
        for (int k = 0; k < steps.Rewards.Length; k++)
        {
            int t = Array.FindIndex(lengths, l => l >= steps.EndChars[k]);
            placed[t < 0 ? tokens.Length - 1 : t] += steps.Rewards[k];
        }
        return placed;
    }
}
