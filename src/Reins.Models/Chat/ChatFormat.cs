using Reins.Models.Tokenizers;

namespace Reins.Models.Chat;

/// <summary>
/// Renders conversations the way a model family's chat template does, without a Jinja engine: the family is
/// recognised from tokenizer_config.json's chat_template and the tokenizer's special tokens, and each family's
/// template is written out in code (checked against @huggingface/jinja renderings of the real templates).
/// </summary>
public abstract class ChatFormat
{
    /// <summary>"chatml", "llama3" or "plain".</summary>
    public abstract string Name { get; }

    /// <summary>The conversation as the template renders it; segments marked assistant are the model's own output.</summary>
    internal abstract IEnumerable<ChatSegment> Segments(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);

    /// <summary>The conversation as text, exactly as the model family's chat template renders it.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = false) =>
        string.Concat(Segments(messages, addGenerationPrompt).Select(s => s.Text));

    /// <summary>
    /// Token ids of the rendered conversation and the assistant mask. Each segment is encoded on its own, so no
    /// token straddles the start of an assistant turn: the reply's tokens are those the model produces after
    /// the generation prompt.
    /// </summary>
    public ChatEncoding Encode(Tokenizer tokenizer, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = false)
    {
        var ids = new List<int>();
        var mask = new List<bool>();
        foreach (var segment in Segments(messages, addGenerationPrompt))
        {
            var segmentIds = tokenizer.Encode(segment.Text);
            ids.AddRange(segmentIds);
            mask.AddRange(Enumerable.Repeat(segment.IsAssistant, segmentIds.Length));
        }
        return new ChatEncoding([.. ids], [.. mask]);
    }

    /// <summary>
    /// The format for <paramref name="tokenizer"/>: ChatML (Qwen) or Llama-3 when its chat template or, without
    /// one, its special tokens say so; otherwise the plain "Role: content" fallback.
    /// </summary>
    public static ChatFormat For(Tokenizer tokenizer)
    {
        var template = tokenizer.ChatTemplate;
        bool Has(params string[] tokens) => tokens.All(t => tokenizer.TokenToId(t) is not null);
        if (template?.Contains("<|im_start|>", StringComparison.Ordinal) ?? Has("<|im_start|>", "<|im_end|>"))
            return ChatMlFormat.FromTemplate(template);
        if (template?.Contains("<|start_header_id|>", StringComparison.Ordinal) ?? Has("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"))
            return new Llama3ChatFormat(
                tokenizer.BosId is { } bos ? tokenizer.IdToToken(bos)! : "",
                alwaysAddsGenerationPrompt: template is not null && !template.Contains("add_generation_prompt", StringComparison.Ordinal));
        return new PlainChatFormat(tokenizer.EosId is { } eos ? tokenizer.IdToToken(eos)! : "");
    }
}
