using Reins.Models.Chat.Jinja;
using Reins.Models.Tokenizers;

namespace Reins.Models.Chat;

/// <summary>
/// Renders conversations with the checkpoint's own chat template (tokenizer_config.json's Jinja chat_template, run by
/// <see cref="ChatTemplate"/>), or, for a tokenizer without one, a built-in template chosen by its special tokens:
/// ChatML, Llama-3, or a plain "Role: content" fallback. Also finds the assistant's own tokens for assistant-only loss.
/// </summary>
public sealed class ChatFormat
{
    // The built-in templates, in Jinja like the checkpoints' own, so that one renderer serves every tokenizer.
    private const string ChatMl =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    private const string Llama3 =
        "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}" +
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
    // For byte-level and freshly trained tokenizers: the reply ends with EOS so that a model trained on it learns to stop.
    private const string Plain =
        "{% for message in messages %}{% if message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token + '\\n\\n' }}" +
        "{% else %}{{ message['role'][:1] | upper }}{{ message['role'][1:] + ': ' + message['content'] + '\\n\\n' }}{% endif %}{% endfor %}" +
        "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}";

    // Appended to one reply to find where the template puts that reply's end: not whitespace, so trim keeps it.
    private const string Probe = "\u0001";

    private readonly Tokenizer tokenizer;
    private readonly string bosToken, eosToken;

    private ChatFormat(string name, ChatTemplate template, Tokenizer tokenizer)
    {
        Name = name;
        Template = template;
        this.tokenizer = tokenizer;
        bosToken = tokenizer.BosId is { } bos ? tokenizer.IdToToken(bos) ?? "" : "";
        eosToken = tokenizer.EosId is { } eos ? tokenizer.IdToToken(eos) ?? "" : "";
    }

    /// <summary>"chat_template" for the tokenizer's own template, else the built-in one used: "chatml", "llama3" or "plain".</summary>
    public string Name { get; }

    /// <summary>The Jinja template conversations are rendered with.</summary>
    public ChatTemplate Template { get; }

    /// <summary>
    /// The format for <paramref name="tokenizer"/>: its own chat template when tokenizer_config.json has one (a template
    /// outside the supported Jinja subset throws <see cref="JinjaException"/> naming the line); otherwise ChatML or
    /// Llama-3 when its special tokens say so, else the plain fallback.
    /// </summary>
    public static ChatFormat For(Tokenizer tokenizer)
    {
        if (tokenizer.ChatTemplate is { } own) return new ChatFormat("chat_template", new ChatTemplate(own), tokenizer);
        bool Has(params string[] tokens) => tokens.All(t => tokenizer.TokenToId(t) is not null);
        if (Has("<|im_start|>", "<|im_end|>")) return new ChatFormat("chatml", new ChatTemplate(ChatMl), tokenizer);
        if (Has("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")) return new ChatFormat("llama3", new ChatTemplate(Llama3), tokenizer);
        return new ChatFormat("plain", new ChatTemplate(Plain), tokenizer);
    }

    /// <summary>The conversation as text, exactly as the template renders it.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = false) => RenderText(messages, addGenerationPrompt).Text;

    private ChatTemplateOutput RenderText(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        Template.Render(messages, addGenerationPrompt, bosToken, eosToken);

    /// <summary>
    /// The rendered conversation cut into the assistant's own output and the text around it. A template with
    /// {% generation %} blocks says where replies are. Otherwise a reply starts where the generation prompt for it
    /// ends (the conversation before it rendered with add_generation_prompt, which must be a prefix of the whole), so
    /// that whatever the template writes after the prompt, a think block for instance, is the model's; it ends after its
    /// content as the template writes it (found by rendering again with one character appended to that reply) and the
    /// special token right after it (&lt;|im_end|&gt;, &lt;|eot_id|&gt;, &lt;/s&gt;), but not the newline that follows.
    /// </summary>
    internal IEnumerable<ChatSegment> Segments(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var full = RenderText(messages, addGenerationPrompt);
        string text = full.Text;
        var spans = full.Generation.Count > 0 ? full.Generation.Select(r => (r.Start.Value, r.End.Value)).ToList() : ReplySpans(messages, addGenerationPrompt, text);
        int at = 0;
        foreach (var (start, end) in spans)
        {
            if (start > at) yield return ChatSegment.Prompt(text[at..start]);
            yield return ChatSegment.Assistant(text[start..end]);
            at = end;
        }
        if (at < text.Length) yield return ChatSegment.Prompt(text[at..]);
    }

    private List<(int Start, int End)> ReplySpans(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string text)
    {
        var spans = new List<(int, int)>();
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != ChatMessage.AssistantRole) continue;
            string prompt = RenderText(messages.Take(i).ToList(), addGenerationPrompt: true).Text;
            if (!text.StartsWith(prompt, StringComparison.Ordinal))
                throw new ArgumentException($"the chat template renders the conversation before message {i} (an assistant reply) differently once the reply follows, so the reply's tokens cannot be told apart; use a template with {{% generation %}} blocks.");
            var probed = messages.Select((m, k) => k == i ? m with { Content = m.Content + Probe } : m).ToList();
            string other = RenderText(probed, addGenerationPrompt).Text;
            int end = 0;
            while (end < text.Length && end < other.Length && text[end] == other[end]) end++;
            if (end < prompt.Length || other.Length == text.Length)
                throw new ArgumentException($"the chat template does not write assistant message {i}'s content after its generation prompt, so its tokens cannot be told apart.");
            end += EndTokenLength(text, end);
            spans.Add((prompt.Length, end));
        }
        return spans;
    }

    // The special token a template closes a reply with, when one starts right at the end of the reply's content.
    private int EndTokenLength(string text, int at)
    {
        var ids = tokenizer.Encode(text.Substring(at, Math.Min(64, text.Length - at)));
        return ids.Length > 0 && tokenizer.IsSpecial(ids[0]) && tokenizer.IdToToken(ids[0]) is { } token && text.AsSpan(at).StartsWith(token) ? token.Length : 0;
    }

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
}
