using System.Text.Json;

namespace Reins.Models.Chat.Jinja;

/// <summary>
/// A Hugging Face chat template (tokenizer_config.json's Jinja "chat_template"), rendered as transformers renders it:
/// Jinja with trim_blocks and lstrip_blocks, transformers' tojson, raise_exception and strftime_now. The subset is what
/// chat templates use; anything else is a <see cref="JinjaException"/> naming the template line when the template is
/// read, never a silently different prompt.
/// </summary>
public sealed class ChatTemplate
{
    private readonly List<Statement> program;

    /// <summary>Parses <paramref name="source"/>; a construct outside the supported subset throws here.</summary>
    public ChatTemplate(string source)
    {
        Source = source;
        program = JinjaParser.Parse(source);
    }

    /// <summary>The template's Jinja text.</summary>
    public string Source { get; }

    /// <summary>
    /// Renders with the variables apply_chat_template passes: messages, add_generation_prompt, bos_token, eos_token and,
    /// when given, tools. <paramref name="now"/> is what strftime_now reads (the current time when null).
    /// </summary>
    public ChatTemplateOutput Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string? bosToken = null, string? eosToken = null,
        JsonElement? tools = null, IReadOnlyDictionary<string, JsonElement>? extra = null, DateTime? now = null)
    {
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = messages.Select(m => (object?)new OrderedDictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = bosToken ?? "",
            ["eos_token"] = eosToken ?? "",
        };
        if (tools is { } t) variables["tools"] = JinjaValues.FromJson(t);
        foreach (var (name, value) in extra ?? new Dictionary<string, JsonElement>()) variables[name] = JinjaValues.FromJson(value);
        return Render(variables, now);
    }

    /// <summary>Renders with every variable taken from a JSON object (messages with tool calls, documents, flags).</summary>
    public ChatTemplateOutput Render(JsonElement variables, DateTime? now = null) =>
        Render(variables.EnumerateObject().ToDictionary(p => p.Name, p => JinjaValues.FromJson(p.Value)), now);

    private ChatTemplateOutput Render(IReadOnlyDictionary<string, object?> variables, DateTime? now)
    {
        var (text, generation) = new JinjaRuntime(() => now ?? DateTime.Now).Render(program, variables);
        return new ChatTemplateOutput(text, generation.Select(g => new Range(g.Start, g.End)).ToList());
    }
}

/// <summary>A rendered conversation, and where the template's {% generation %} blocks put the assistant's own text.</summary>
public sealed record ChatTemplateOutput(string Text, IReadOnlyList<Range> Generation);
