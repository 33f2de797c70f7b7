using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Feedback.Tokenization;

namespace Reins.Alignment.Training;

/// <summary>How the offline preference trainers (DPO, KTO) cut prompts and completions, with TRL's names.</summary>
public sealed record PreferenceDataArguments : ISettings
{
    /// <summary>Tokens of prompt + completion at most, cut as truncation_mode says.</summary>
    [JsonPropertyName("max_length"), Description("Tokens of prompt + completion at most (after the prompt and completion limits).")]
    public int MaxLength { get; init; } = 512;

    /// <summary>Which end of an over-long sequence survives (TRL's truncation_mode).</summary>
    [JsonPropertyName("truncation_mode"), Description("keep_end (drop the head) or keep_start (drop the tail) when max_length is exceeded.")]
    public TruncationMode TruncationMode { get; init; } = TruncationMode.KeepEnd;

    /// <summary>Tokens kept of each prompt (the end is kept).</summary>
    [JsonPropertyName("max_prompt_length"), Description("Prompt tokens kept (from the end).")]
    public int MaxPromptLength { get; init; } = 256;

    /// <summary>Tokens kept of each completion (the start is kept).</summary>
    [JsonPropertyName("max_completion_length"), Description("Completion tokens kept (from the start).")]
    public int MaxCompletionLength { get; init; } = 256;

    /// <summary>The tokenisation these settings describe.</summary>
    public TokenizationOptions TokenizationOptions => new()
    {
        MaxLength = MaxLength, MaxPromptLength = MaxPromptLength, MaxCompletionLength = MaxCompletionLength, TruncationMode = TruncationMode,
    };

    /// <inheritdoc/>
    public void Validate() => Settings.Require(MaxPromptLength >= 1 && MaxCompletionLength >= 1, "max_prompt_length/max_completion_length", "must be positive");
}
