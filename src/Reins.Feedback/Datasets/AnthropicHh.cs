using Reins.Models.Chat;
using System.Text.RegularExpressions;

namespace Reins.Feedback.Datasets;

/// <summary>
/// The raw Anthropic HH-RLHF form (Bai et al. 2022): each of <c>chosen</c> and <c>rejected</c> is a whole transcript
/// <c>"\n\nHuman: …\n\nAssistant: …"</c>. Converted on load into conversational preference records.
/// </summary>
public static partial class AnthropicHh
{
    // A turn starts at "\n\nHuman:" or "\n\nAssistant:" (or at the very start, where some copies lost the newlines);
    // a blank line followed by anything else is a paragraph break inside the turn.
    [GeneratedRegex(@"(?:\A\s*|\n\n)(Human|Assistant):")]
    private static partial Regex TurnMarker();

    /// <summary>Splits a transcript into user and assistant messages, trimming each turn as TRL's HH script does.</summary>
    /// <exception cref="FormatException">The text does not start with a Human or Assistant turn, or does not end with the Assistant's.</exception>
    public static IReadOnlyList<ChatMessage> ParseTranscript(string transcript)
    {
        var markers = TurnMarker().Matches(transcript);
        if (markers.Count == 0 || markers[0].Index != 0)
            throw new FormatException("expected a transcript starting with \"\\n\\nHuman:\"");
        var messages = new ChatMessage[markers.Count];
        for (int i = 0; i < markers.Count; i++)
        {
            int start = markers[i].Index + markers[i].Length;
            int end = i + 1 < markers.Count ? markers[i + 1].Index : transcript.Length;
            string role = markers[i].Groups[1].Value == "Human" ? ChatMessage.UserRole : ChatMessage.AssistantRole;
            messages[i] = new ChatMessage(role, transcript[start..end].Trim());
        }
        if (messages[^1].Role != ChatMessage.AssistantRole)
            throw new FormatException("the transcript ends with a Human turn; expected the Assistant's reply last");
        return messages;
    }
}
