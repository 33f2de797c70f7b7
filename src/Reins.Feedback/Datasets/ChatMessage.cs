namespace Reins.Feedback.Datasets;

/// <summary>One turn of a conversation, as in a TRL <c>messages</c> list: <c>{"role": "user", "content": "…"}</c>.</summary>
/// <param name="Role">Who speaks: system, user, assistant, tool or any role the chat template knows.</param>
/// <param name="Content">What was said.</param>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>The role of the model's own turns, the ones assistant-only loss trains on.</summary>
    public const string AssistantRole = "assistant";

    /// <summary>The role of the human's turns.</summary>
    public const string UserRole = "user";
}
