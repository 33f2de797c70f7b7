using Reins.Feedback.Datasets;

namespace Reins.Feedback.Tokenization;

/// <summary>A tokenized prompt for online RL, with its record so reward functions can read the prompt and extra fields.</summary>
/// <param name="InputIds">The prompt's ids (ending with the generation prompt for conversations).</param>
/// <param name="Source">The record it came from.</param>
public sealed record TokenizedPrompt(int[] InputIds, PromptOnlyExample Source);
