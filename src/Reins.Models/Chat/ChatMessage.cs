namespace Reins.Models.Chat;

/// <summary>One turn of a conversation, as in TRL's "messages" datasets: role is "system", "user" or "assistant".</summary>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>The role of the model's own turns, the ones assistant-only loss trains on.</summary>
    public const string AssistantRole = "assistant";

    /// <summary>The role of the human's turns.</summary>
    public const string UserRole = "user";

    /// <summary>A system turn.</summary>
    public static ChatMessage System(string content) => new("system", content);
    /// <summary>A user turn.</summary>
    public static ChatMessage User(string content) => new("user", content);
    /// <summary>An assistant turn.</summary>
    public static ChatMessage Assistant(string content) => new("assistant", content);
}
