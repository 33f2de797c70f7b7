namespace Reins.Feedback.Tokenization;

/// <summary>How records become token sequences; the names and defaults follow TRL's trainer configs.</summary>
public sealed record TokenizationOptions
{
    /// <summary>Longest prompt+completion sequence (TRL <c>max_length</c>); null for no limit.</summary>
    public int? MaxLength { get; init; } = 1024;

    /// <summary>Longest prompt, which keeps its end so the text nearest the answer survives (TRL <c>max_prompt_length</c>); null for no limit.</summary>
    public int? MaxPromptLength { get; init; }

    /// <summary>Longest completion, which keeps its start (TRL <c>max_completion_length</c>); null for no limit.</summary>
    public int? MaxCompletionLength { get; init; }

    /// <summary>Which end survives <see cref="MaxLength"/>. TRL's SFT keeps the start, its DPO the end.</summary>
    public TruncationMode TruncationMode { get; init; } = TruncationMode.KeepStart;

    /// <summary>Prepend the encoder's BOS to standard (text) prompts; chat templates render their own.</summary>
    public bool AddBos { get; init; } = true;

    /// <summary>
    /// Append EOS to standard (text) completions and documents that do not end with it, so the model learns to stop.
    /// Conversations are left to the chat template, which closes every turn itself.
    /// </summary>
    public bool AppendEos { get; init; } = true;

    /// <summary>SFT on prompt–completion records computes the loss on completion tokens only (TRL <c>completion_only_loss</c>).</summary>
    public bool CompletionOnlyLoss { get; init; } = true;

    /// <summary>On conversations, compute the loss on assistant-turn tokens only (TRL <c>assistant_only_loss</c>).</summary>
    public bool AssistantOnlyLoss { get; init; }

    /// <summary>
    /// Drop records whose prompt exceeds <see cref="MaxPromptLength"/> (or leaves no room under <see cref="MaxLength"/>)
    /// instead of truncating them; either way they are counted in <see cref="TokenizationReport.PromptsTooLong"/>.
    /// </summary>
    public bool DropLongPrompts { get; init; }

    /// <summary>Throws when a limit is not positive.</summary>
    public TokenizationOptions Validate()
    {
        foreach (var (name, value) in new[] { (nameof(MaxLength), MaxLength), (nameof(MaxPromptLength), MaxPromptLength), (nameof(MaxCompletionLength), MaxCompletionLength) })
            if (value is <= 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive (or null for no limit).");
        return this;
    }
}
