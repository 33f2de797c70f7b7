namespace Reins.Feedback.Datasets;

/// <summary>
/// Preference (TRL): <c>{"prompt": …, "chosen": …, "rejected": …}</c>, the input of DPO and of Bradley–Terry reward
/// models. Files in the implicit-prompt form (no <c>prompt</c>) arrive here with the shared prefix extracted.
/// </summary>
/// <param name="Prompt">The shared input.</param>
/// <param name="Chosen">The preferred completion.</param>
/// <param name="Rejected">The dispreferred completion.</param>
public sealed record PreferenceExample(TextOrConversation Prompt, TextOrConversation Chosen, TextOrConversation Rejected) : Example;
