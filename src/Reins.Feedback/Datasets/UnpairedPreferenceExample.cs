namespace Reins.Feedback.Datasets;

/// <summary>Unpaired preference (TRL, for KTO): <c>{"prompt": …, "completion": …, "label": true}</c>, one thumbs-up or thumbs-down.</summary>
/// <param name="Prompt">The input.</param>
/// <param name="Completion">The rated completion.</param>
/// <param name="Label">True when the completion is desirable.</param>
public sealed record UnpairedPreferenceExample(TextOrConversation Prompt, TextOrConversation Completion, bool Label) : Example;
