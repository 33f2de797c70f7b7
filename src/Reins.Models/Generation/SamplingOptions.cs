namespace Reins.Models.Generation;

/// <summary>
/// How <see cref="Generator"/> picks tokens. The filters (repetition penalty, top-k, top-p, min-p) shape only the
/// sampling distribution; the log-probabilities returned are always log_softmax(logits / T) of the untouched
/// logits, as TRL defines them, so a teacher-forced forward at the same temperature reproduces them.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>New tokens per sequence at most.</summary>
    public int MaxNewTokens { get; init; } = 64;
    /// <summary>Softmax temperature; 0 means greedy (argmax), whose log-probs are reported at temperature 1.</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Keep only the k most likely tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches p (1 = off).</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Keep tokens whose probability is at least min_p times the most likely one's (0 = off).</summary>
    public float MinP { get; init; }
    /// <summary>CTRL's penalty on tokens already in the prompt or response: positive logits divided, negative multiplied (1 = off).</summary>
    public float RepetitionPenalty { get; init; } = 1f;
    /// <summary>Tokens that end a sequence (kept as its last token), typically EOS.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    /// <summary>Strings that end a sequence once the decoded response contains them (needs a decoder).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Samples per prompt; they share the prompt's prefill (GRPO groups, best-of-n).</summary>
    public int NumReturnSequences { get; init; } = 1;
    /// <summary>Base seed; prompt i uses <see cref="PromptSeeds"/>[i] when given, else a seed derived from this and i.</summary>
    public ulong Seed { get; init; }
    /// <summary>Optional per-prompt seeds: the same prompt with the same seed gives the same samples.</summary>
    public IReadOnlyList<ulong>? PromptSeeds { get; init; }
    /// <summary>With each streamed token, also the log-probs of this many most likely tokens at that step (0–20, OpenAI's top_logprobs).</summary>
    public int TopLogProbs { get; init; }

    /// <summary>The seed of prompt <paramref name="prompt"/>'s samples: its own from <see cref="PromptSeeds"/>, else one derived from <see cref="Seed"/> and its index.</summary>
    public ulong PromptSeed(int prompt) => PromptSeeds is { } seeds ? seeds[prompt] : Seed + 0x9E3779B97F4A7C15UL * (ulong)(prompt + 1);

    /// <summary>Checks the ranges, naming the field.</summary>
    public SamplingOptions Validate()
    {
        static void Require(bool ok, string field, string why) { if (!ok) throw new ArgumentException($"sampling: {field} {why}."); }
        Require(MaxNewTokens >= 1, "max_new_tokens", "must be at least 1");
        Require(Temperature >= 0 && float.IsFinite(Temperature), "temperature", "must be ≥ 0 (0 = greedy)");
        Require(TopK >= 0, "top_k", "must be ≥ 0 (0 = off)");
        Require(TopP > 0 && TopP <= 1, "top_p", "must be in (0, 1]");
        Require(MinP >= 0 && MinP <= 1, "min_p", "must be in [0, 1]");
        Require(RepetitionPenalty > 0, "repetition_penalty", "must be positive");
        Require(NumReturnSequences >= 1, "num_return_sequences", "must be at least 1");
        Require(TopLogProbs is >= 0 and <= 20, "top_logprobs", "must be in [0, 20]");
        return this;
    }
}

/// <summary>Why a sequence stopped.</summary>
public enum FinishReason
{
    /// <summary>A stop token or stop string ended it.</summary>
    Stop,
    /// <summary>It reached max_new_tokens.</summary>
    Length,
    /// <summary>Generation was cancelled; the tokens so far are returned.</summary>
    Cancelled,
}

/// <summary>One generated sequence: the response tokens, their log-probs (see <see cref="SamplingOptions"/>) and why it ended.</summary>
public sealed record GeneratedSequence(int PromptIndex, int SampleIndex, int[] PromptIds, int[] Tokens, float[] LogProbs, FinishReason FinishReason)
{
    /// <summary>The decoded response when a decoder was given.</summary>
    public string? Text { get; init; }
}

/// <summary>A token as it is produced, for streaming (<see cref="Generator.StreamAsync"/>).</summary>
public sealed record GeneratedToken(int PromptIndex, int SampleIndex, int Token, float LogProb, FinishReason? FinishReason)
{
    /// <summary>The most likely tokens at this step and their log-probs, most likely first (<see cref="SamplingOptions.TopLogProbs"/> of them).</summary>
    public IReadOnlyList<(int Token, float LogProb)> TopLogProbs { get; init; } = [];
}
