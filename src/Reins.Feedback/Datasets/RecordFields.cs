using Reins.Models.Chat;
using Reins.Models.Tokenizers;
using System.Collections.Frozen;
using System.Text.Json;

namespace Reins.Feedback.Datasets;

/// <summary>
/// Typed access to one JSONL record that remembers which keys a format consumed (the rest become extra fields) and
/// turns every problem into a <see cref="DatasetException"/> naming the file, line and field.
/// </summary>
internal sealed class RecordFields(JsonElement root, string path, int line, DatasetStyle? style, string needs)
{
    private readonly HashSet<string> consumed = new(StringComparer.Ordinal);

    /// <summary>The dataset's style: given by earlier records, or fixed by the first text-or-messages field of this one.</summary>
    public DatasetStyle? Style { get; set; } = style;

    /// <summary>Message keys other than role and content met in this record.</summary>
    public List<string> IgnoredMessageKeys { get; } = [];

    public JsonElement Root => root;

    public bool Has(string name) => root.TryGetProperty(name, out _);

    public DatasetException Error(string? field, DatasetErrorReason reason, string detail) => new(path, line, field, reason, detail);

    public JsonElement Get(string name)
    {
        if (!root.TryGetProperty(name, out var value)) throw Error(name, DatasetErrorReason.MissingField, $"missing ({needs})");
        consumed.Add(name);
        return value;
    }

    public string String(string name) => StringAt(name, Get(name));

    public TextOrConversation TextOrConversation(string name) => TextOrConversationAt(name, Get(name));

    public IReadOnlyList<T> List<T>(string name, Func<string, JsonElement, T> item)
    {
        var value = Get(name);
        if (value.ValueKind != JsonValueKind.Array) throw WrongType(name, "a list", value);
        var items = new T[value.GetArrayLength()];
        int i = 0;
        foreach (var element in value.EnumerateArray()) items[i] = item($"{name}[{i++}]", element);
        return items;
    }

    /// <summary>A list with one entry per item of another list (ranks per completion, labels per step).</summary>
    public IReadOnlyList<T> ParallelList<T>(string name, Func<string, JsonElement, T> item, int count, string perWhat)
    {
        var items = List(name, item);
        return items.Count == count ? items
            : throw Error(name, DatasetErrorReason.InvalidValue, $"expected {count} {name}, one per {perWhat}, got {items.Count}");
    }

    public string StringAt(string field, JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? Text(field, value) : throw WrongType(field, "a string", value);

    private string Text(string field, JsonElement value) =>
        JsonText.StringOrNull(value) ?? throw Error(field, DatasetErrorReason.InvalidText, JsonText.LoneSurrogate);

    public bool BoolAt(string field, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw WrongType(field, "a boolean", value),
    };

    public double NumberAt(string field, JsonElement value) =>
        value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw WrongType(field, "a number", value);

    public int IntegerAt(string field, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Number) throw WrongType(field, "an integer", value);
        return value.TryGetInt32(out int result) ? result : throw Error(field, DatasetErrorReason.InvalidValue, $"expected an integer, got {value.GetRawText()}");
    }

    /// <summary>A string or a list of messages, whichever the dataset's style is (either, for the first such field).</summary>
    public TextOrConversation TextOrConversationAt(string field, JsonElement value)
    {
        var kind = value.ValueKind switch
        {
            JsonValueKind.String => DatasetStyle.Standard,
            JsonValueKind.Array => DatasetStyle.Conversational,
            _ => throw WrongType(field, ExpectedForStyle(), value),
        };
        if (Style is { } expected && expected != kind) throw WrongType(field, ExpectedForStyle(), value);
        Style = kind;
        return kind == DatasetStyle.Standard
            ? Datasets.TextOrConversation.FromText(Text(field, value))
            : Datasets.TextOrConversation.FromMessages(MessagesAt(field, value));
    }

    private string ExpectedForStyle() => Style switch
    {
        DatasetStyle.Standard => "a string (the dataset is standard)",
        DatasetStyle.Conversational => "a list of messages (the dataset is conversational)",
        _ => "a string or a list of messages",
    };

    private ChatMessage[] MessagesAt(string field, JsonElement list)
    {
        int count = list.GetArrayLength();
        if (count == 0) throw Error(field, DatasetErrorReason.InvalidValue, "expected at least one message, got an empty list");
        var messages = new ChatMessage[count];
        int i = 0;
        foreach (var item in list.EnumerateArray())
        {
            string at = $"{field}[{i}]";
            if (item.ValueKind != JsonValueKind.Object) throw WrongType(at, "a message {\"role\", \"content\"}", item);
            string role = StringAt($"{at}.role", MessagePart(item, at, "role"));
            if (role.Length == 0) throw Error($"{at}.role", DatasetErrorReason.InvalidValue, "expected a role, got an empty string");
            string content = StringAt($"{at}.content", MessagePart(item, at, "content"));
            foreach (var property in item.EnumerateObject())
                if (property.Name is not ("role" or "content")) IgnoredMessageKeys.Add(property.Name);
            messages[i++] = new ChatMessage(role, content);
        }
        return messages;
    }

    private JsonElement MessagePart(JsonElement message, string at, string key) =>
        message.TryGetProperty(key, out var value) ? value : throw Error($"{at}.{key}", DatasetErrorReason.MissingField, "missing (a message needs \"role\" and \"content\")");

    public DatasetException WrongType(string field, string expected, JsonElement actual) =>
        Error(field, DatasetErrorReason.WrongType, $"expected {expected}, got {KindName(actual.ValueKind)}");

    public static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "list",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };

    /// <summary>The fields no parser consumed, cloned so they outlive the line's JSON document.</summary>
    public IReadOnlyDictionary<string, JsonElement> Extra()
    {
        Dictionary<string, JsonElement>? extra = null;
        foreach (var property in root.EnumerateObject())
            if (!consumed.Contains(property.Name)) (extra ??= [])[property.Name] = property.Value.Clone();
        return extra ?? (IReadOnlyDictionary<string, JsonElement>)FrozenDictionary<string, JsonElement>.Empty;
    }
}
