namespace Reins.Models.Chat;

/// <summary>A stretch of rendered conversation, either the assistant's own output or the text around it.</summary>
internal readonly record struct ChatSegment(string Text, bool IsAssistant)
{
    public static ChatSegment Prompt(string text) => new(text, false);
    public static ChatSegment Assistant(string text) => new(text, true);
}
