using System.Text.RegularExpressions;

namespace Reins.Models.Chat;

/// <summary>
/// ChatML, as the Qwen family's templates render it: "&lt;|im_start|&gt;role\n…&lt;|im_end|&gt;\n" per message.
/// Qwen2/2.5 templates insert a default system prompt when the conversation has none; Qwen3's put a
/// "&lt;think&gt;…&lt;/think&gt;" block before the assistant replies that follow the last user message.
/// </summary>
public sealed partial class ChatMlFormat : ChatFormat
{
    private ChatMlFormat(string? defaultSystemPrompt, bool thinkBlocks)
    {
        DefaultSystemPrompt = defaultSystemPrompt;
        ThinkBlocks = thinkBlocks;
    }

    public override string Name => "chatml";

    /// <summary>The system message used when the conversation does not start with one (null: none).</summary>
    public string? DefaultSystemPrompt { get; }

    /// <summary>Whether replies after the last user message carry a think block (Qwen3).</summary>
    public bool ThinkBlocks { get; }

    /// <summary>Reads the two family variations from a template's text (null: plain ChatML).</summary>
    public static ChatMlFormat FromTemplate(string? template)
    {
        if (template is null) return new ChatMlFormat(null, false);
        // A constant system turn written out in the template, e.g. '<|im_start|>system\nYou are Qwen, …<|im_end|>\n'.
        var match = DefaultSystemTurn().Match(template);
        string? prompt = match.Success ? Regex.Unescape(match.Groups["prompt"].Value) : null;
        return new ChatMlFormat(prompt, template.Contains("</think>", StringComparison.Ordinal) && template.Contains("reasoning_content", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"'<\|im_start\|>system\\n(?<prompt>(?:[^'\\]|\\.)+?)<\|im_end\|>\\n'")]
    private static partial Regex DefaultSystemTurn();

    internal override IEnumerable<ChatSegment> Segments(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        bool systemFirst = messages.Count > 0 && messages[0].Role == "system";
        if (!systemFirst && DefaultSystemPrompt is { } prompt) yield return ChatSegment.Prompt($"<|im_start|>system\n{prompt}<|im_end|>\n");
        int lastUser = LastIndexOfUser(messages);
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role != "assistant")
            {
                yield return ChatSegment.Prompt($"<|im_start|>{m.Role}\n{m.Content}<|im_end|>\n");
                continue;
            }
            yield return ChatSegment.Prompt("<|im_start|>assistant\n");
            yield return ChatSegment.Assistant(AssistantText(m.Content, withThinkBlock: ThinkBlocks && i > lastUser, isLast: i == messages.Count - 1) + "<|im_end|>");
            yield return ChatSegment.Prompt("\n");
        }
        if (addGenerationPrompt) yield return ChatSegment.Prompt("<|im_start|>assistant\n");
    }

    // Qwen3's template: with no user message, every message counts as after the "last query".
    private static int LastIndexOfUser(IReadOnlyList<ChatMessage> messages)
    {
        for (int i = messages.Count - 1; i >= 0; i--) if (messages[i].Role == "user") return i;
        return messages.Count - 1;
    }

    // Qwen3 splits "<think>r</think>c" into reasoning r and content c, and writes the block out for the final
    // reply (even when empty) or for any later reply that has reasoning; earlier replies keep only c.
    private string AssistantText(string content, bool withThinkBlock, bool isLast)
    {
        if (!ThinkBlocks) return content;
        string reasoning = "";
        int close = content.LastIndexOf("</think>", StringComparison.Ordinal);
        if (close >= 0)
        {
            int firstClose = content.IndexOf("</think>", StringComparison.Ordinal);
            var before = content[..firstClose].TrimEnd('\n');
            int open = before.LastIndexOf("<think>", StringComparison.Ordinal);
            reasoning = (open >= 0 ? before[(open + "<think>".Length)..] : before).TrimStart('\n');
            content = content[(close + "</think>".Length)..].TrimStart('\n');
        }
        if (withThinkBlock && (isLast || reasoning.Length > 0))
            return $"<think>\n{reasoning.Trim('\n')}\n</think>\n\n{content.TrimStart('\n')}";
        return content;
    }
}
