using Reins.Models.Chat;
namespace Reins.Feedback.Datasets;

/// <summary>
/// TRL's <c>extract_prompt</c>: in the implicit-prompt preference form, <c>chosen</c> and <c>rejected</c> are whole
/// conversations (or texts) that share a prefix; the prefix is the prompt and the rest are the completions.
/// </summary>
public static class ImplicitPrompt
{
    /// <summary>
    /// Splits the shared prefix off, message by message for conversations and character by character for text.
    /// As in TRL, a space just before the split goes to the completions, and when one side is a prefix of the other
    /// (or both are equal) the split moves back one unit so neither completion is empty. Null when nothing is shared.
    /// </summary>
    public static PreferenceExample? Extract(TextOrConversation chosen, TextOrConversation rejected)
    {
        if (chosen.IsConversational != rejected.IsConversational)
            throw new ArgumentException("chosen and rejected must both be text or both be conversations.", nameof(rejected));
        return chosen.Messages is { } c ? ExtractMessages(c, rejected.Messages!) : ExtractText(chosen.Text!, rejected.Text!);
    }

    private static PreferenceExample? ExtractMessages(IReadOnlyList<ChatMessage> chosen, IReadOnlyList<ChatMessage> rejected)
    {
        int shortest = Math.Min(chosen.Count, rejected.Count), split = 0;
        while (split < shortest && chosen[split] == rejected[split]) split++;
        if (split == shortest) split = shortest - 1;
        if (split <= 0) return null;
        return new PreferenceExample(
            TextOrConversation.FromMessages(chosen.Take(split).ToArray()),
            TextOrConversation.FromMessages(chosen.Skip(split).ToArray()),
            TextOrConversation.FromMessages(rejected.Skip(split).ToArray()));
    }

    private static PreferenceExample? ExtractText(string chosen, string rejected)
    {
        int shortest = Math.Min(chosen.Length, rejected.Length), split = 0;
        while (split < shortest && chosen[split] == rejected[split]) split++;
        if (split == shortest) split = shortest - 1;
        else if (split > 0 && chosen[split - 1] == ' ') split--;
        // Never cut a surrogate pair: two emoji can share their high half.
        if (split > 0 && char.IsHighSurrogate(chosen[split - 1])) split--;
        if (split <= 0) return null;
        return new PreferenceExample(
            TextOrConversation.FromText(chosen[..split]),
            TextOrConversation.FromText(chosen[split..]),
            TextOrConversation.FromText(rejected[split..]));
    }
}
