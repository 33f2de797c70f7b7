namespace Reins.Models.Chat;

/// <summary>
/// The fallback for tokenizers without a recognised template (byte-level and freshly trained ones):
/// "Role: content\n\n" per message, with the assistant's content followed by the EOS token so that a model
/// trained on it learns to stop.
/// </summary>
/// <param name="eosToken">Text of the EOS token ("" when the tokenizer has none).</param>
public sealed class PlainChatFormat(string eosToken) : ChatFormat
{
    public override string Name => "plain";

    internal override IEnumerable<ChatSegment> Segments(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        foreach (var m in messages)
        {
            string role = m.Role.Length == 0 ? m.Role : char.ToUpperInvariant(m.Role[0]) + m.Role[1..];
            if (m.Role == "assistant")
            {
                yield return ChatSegment.Prompt("Assistant: ");
                yield return ChatSegment.Assistant(m.Content + eosToken);
                yield return ChatSegment.Prompt("\n\n");
            }
            else yield return ChatSegment.Prompt($"{role}: {m.Content}\n\n");
        }
        if (addGenerationPrompt) yield return ChatSegment.Prompt("Assistant: ");
    }
}
