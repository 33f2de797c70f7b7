namespace Reins.Feedback.Datasets;

/// <summary>Language modelling (TRL): <c>{"text": "…"}</c> or <c>{"messages": [...]}</c>; SFT trains on all of it.</summary>
/// <param name="Text">The document or the conversation.</param>
public sealed record LanguageModelingExample(TextOrConversation Text) : Example;
