namespace Reins.Models.Chat;

/// <summary>
/// The Llama-3 template: BOS, then "&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\n" + trimmed content +
/// "&lt;|eot_id|&gt;" per message.
/// </summary>
/// <param name="bosToken">Text of the BOS token the template starts with.</param>
/// <param name="alwaysAddsGenerationPrompt">
/// Early Llama-3-Instruct templates append the assistant header unconditionally (they never test
/// add_generation_prompt); we follow the template we recognised.
/// </param>
public sealed class Llama3ChatFormat(string bosToken, bool alwaysAddsGenerationPrompt) : ChatFormat
{
    public override string Name => "llama3";

    internal override IEnumerable<ChatSegment> Segments(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            string header = (i == 0 ? bosToken : "") + $"<|start_header_id|>{m.Role}<|end_header_id|>\n\n";
            // Jinja's trim, as the template applies it to every message's content.
            string body = m.Content.Trim() + "<|eot_id|>";
            if (m.Role == "assistant")
            {
                yield return ChatSegment.Prompt(header);
                yield return ChatSegment.Assistant(body);
            }
            else yield return ChatSegment.Prompt(header + body);
        }
        if (addGenerationPrompt || alwaysAddsGenerationPrompt) yield return ChatSegment.Prompt("<|start_header_id|>assistant<|end_header_id|>\n\n");
    }
}
