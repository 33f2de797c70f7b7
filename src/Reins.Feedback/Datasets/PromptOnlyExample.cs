namespace Reins.Feedback.Datasets;

/// <summary>Prompt-only (TRL): <c>{"prompt": …}</c>, the input of online methods (PPO, GRPO, RLOO) that generate their own completions.</summary>
/// <param name="Prompt">What the policy is asked.</param>
public sealed record PromptOnlyExample(TextOrConversation Prompt) : Example;
