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

    /// <summary>One line for a training log.</summary>
    public override string ToString() =>
        $"{Records} records tokenised; prompts too long {PromptsTooLong} (dropped {Dropped}); truncated: prompts {PromptsTruncated}, " +
        $"completions {CompletionsTruncated}, sequences {SequencesTruncated}; without loss tokens {WithoutLossTokens}; template prefix mismatches {TemplatePrefixMismatches}";
}
