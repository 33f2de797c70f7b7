using Reins.Models.Chat;
namespace Reins.Feedback.Datasets;

/// <summary>
/// A field that TRL lets be either plain text ("standard" datasets) or a list of chat messages ("conversational"
/// datasets); exactly one of <see cref="Text"/> and <see cref="Messages"/> is set.
/// </summary>
public sealed class TextOrConversation
{
    private TextOrConversation(string? text, IReadOnlyList<ChatMessage>? messages) => (Text, Messages) = (text, messages);

    /// <summary>Plain text.</summary>
    public static TextOrConversation FromText(string text) => new(text ?? throw new ArgumentNullException(nameof(text)), null);

    /// <summary>A list of chat messages.</summary>
    public static TextOrConversation FromMessages(IReadOnlyList<ChatMessage> messages) =>
        new(null, messages ?? throw new ArgumentNullException(nameof(messages)));

    /// <summary>The text of a standard field, else null.</summary>
    public string? Text { get; }

    /// <summary>The messages of a conversational field, else null.</summary>
    public IReadOnlyList<ChatMessage>? Messages { get; }

    /// <summary>True for a list of messages.</summary>
    public bool IsConversational => Messages is not null;

    /// <inheritdoc/>
    public override string ToString() =>
        Text ?? string.Join("\n", Messages!.Select(m => $"{m.Role}: {m.Content}"));
}
