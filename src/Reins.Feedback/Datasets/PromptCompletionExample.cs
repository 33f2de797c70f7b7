namespace Reins.Feedback.Datasets;

/// <summary>Prompt–completion (TRL): <c>{"prompt": …, "completion": …}</c>; SFT trains on the completion only by default.</summary>
/// <param name="Prompt">The input.</param>
/// <param name="Completion">The demonstrated answer.</param>
public sealed record PromptCompletionExample(TextOrConversation Prompt, TextOrConversation Completion) : Example;
