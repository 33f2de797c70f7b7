namespace Reins.Feedback.Tokenization;

/// <summary>What tokenisation changed or dropped, for the trainers to log next to the <see cref="Datasets.DatasetReport"/>.</summary>
public sealed class TokenizationReport
{
    /// <summary>Records tokenised (dropped ones included).</summary>
    public int Records { get; internal set; }

    /// <summary>Records whose prompt exceeded <see cref="TokenizationOptions.MaxPromptLength"/> or left no room under <see cref="TokenizationOptions.MaxLength"/>.</summary>
    public int PromptsTooLong { get; internal set; }

    /// <summary>Of those, the records dropped (with <see cref="TokenizationOptions.DropLongPrompts"/>).</summary>
    public int Dropped { get; internal set; }

    /// <summary>Prompts cut to <see cref="TokenizationOptions.MaxPromptLength"/>.</summary>
    public int PromptsTruncated { get; internal set; }

    /// <summary>Completions cut to <see cref="TokenizationOptions.MaxCompletionLength"/>.</summary>
    public int CompletionsTruncated { get; internal set; }

    /// <summary>Sequences cut to <see cref="TokenizationOptions.MaxLength"/>.</summary>
    public int SequencesTruncated { get; internal set; }

    /// <summary>Sequences left with no position the loss applies to (usually a completion truncated away).</summary>
    public int WithoutLossTokens { get; internal set; }

    /// <summary>
    /// Conversations whose rendering with the completion did not start with the prompt's rendering (the chat template
    /// changes earlier turns, as some do for reasoning); their prompt/completion boundary is the longest common prefix.
    /// </summary>
    public int TemplatePrefixMismatches { get; internal set; }

    /// <summary>
    /// Whether any record was dropped or left with nothing to learn from. Truncation to the configured lengths is
    /// counted (and in <see cref="Metrics"/>) but alone is not a loss: the lengths ask for it.
    /// </summary>
    public bool LostRecords => Dropped + WithoutLossTokens > 0;

    /// <summary>The counts as metrics (data/…), for the row a run logs when it trains on less than it was given.</summary>
    public IReadOnlyDictionary<string, double> Metrics() => new Dictionary<string, double>
    {
        ["data/records"] = Records, ["data/dropped"] = Dropped, ["data/prompts_truncated"] = PromptsTruncated,
        ["data/completions_truncated"] = CompletionsTruncated, ["data/sequences_truncated"] = SequencesTruncated,
        ["data/without_loss_tokens"] = WithoutLossTokens,
    };

    /// <summary>
    /// Throws, naming the counts, when no training record is left to learn from (<paramref name="usable"/> is 0): a run
    /// on nothing would log loss 0 and report success.
    /// </summary>
    public void RequireUsable(string method, int usable)
    {
        if (usable == 0)
            throw new InvalidDataException($"{method}: no training record is left to learn from after tokenisation ({this}); raise max_length (or max_prompt_length) or shorten the records.");
    }

    /// <summary>One line for a training log.</summary>
    public override string ToString() =>
        $"{Records} records tokenised; prompts too long {PromptsTooLong} (dropped {Dropped}); truncated: prompts {PromptsTruncated}, " +
        $"completions {CompletionsTruncated}, sequences {SequencesTruncated}; without loss tokens {WithoutLossTokens}; template prefix mismatches {TemplatePrefixMismatches}";
}
