using System.Text.Json;

namespace Reins.Models.Tokenizers;

/// <summary>
/// A JSON value together with the file and field path it came from, so that every complaint about a
/// tokenizer file names both (e.g. "tokenizer.json: model.merges[12]: expected two tokens").
/// </summary>
internal readonly record struct JsonField(JsonElement Value, string File, string Path)
{
    public static JsonField Parse(byte[] utf8, string file)
    {
        JsonText.RequireUtf8(utf8, file);
        try
        {
            using var document = JsonDocument.Parse(utf8, new JsonDocumentOptions { AllowTrailingCommas = true, AllowDuplicateProperties = false });
            return new JsonField(document.RootElement.Clone(), file, "");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: not valid JSON ({e.Message})", e);
        }
        // Checking for repeated keys decodes every key, and fails on one that escapes a lone surrogate.
        catch (InvalidOperationException)
        {
            throw new InvalidDataException($"{file}: a key {JsonText.LoneSurrogate}.");
        }
    }

    public InvalidDataException Error(string problem) => new($"{File}: {(Path.Length == 0 ? "top level" : Path)}: {problem}");

    public bool IsNull => Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    /// <summary>The named member, or null when it is absent or JSON null.</summary>
    public JsonField? Optional(string name)
    {
        if (Value.ValueKind != JsonValueKind.Object) throw Error($"expected an object, found {Value.ValueKind}");
        return Value.TryGetProperty(name, out var member) && member.ValueKind != JsonValueKind.Null ? Child(member, name) : null;
    }

    public JsonField Required(string name) => Optional(name) ?? throw Error($"missing field \"{name}\"");

    public string String() => Value.ValueKind == JsonValueKind.String
        ? JsonText.StringOrNull(Value) ?? throw Error(JsonText.LoneSurrogate)
        : throw Error($"expected a string, found {Value.ValueKind}");

    public int Int() => Value.ValueKind == JsonValueKind.Number && Value.TryGetInt32(out int v) ? v : throw Error($"expected an integer, found {Value.GetRawText()}");

    /// <summary>Token ids lie below this (2²⁴): an id table is allocated up to the largest, so a stray huge one is refused.</summary>
    public const int TokenIdLimit = 1 << 24;

    /// <summary>A token id: a non-negative integer below <see cref="TokenIdLimit"/>.</summary>
    public int Id() => Int() is var id && id is >= 0 and < TokenIdLimit ? id : throw Error($"expected a token id in [0, {TokenIdLimit}), found {id}");

    public float Number() => Value.ValueKind == JsonValueKind.Number && Value.TryGetSingle(out float v) && float.IsFinite(v) ? v : throw Error($"expected a number, found {Value.GetRawText()}");

    public bool Bool() => Value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Error($"expected true or false, found {Value.ValueKind}"),
    };

    public string? OptionalString(string name) => Optional(name)?.String();

    public bool OptionalBool(string name, bool fallback) => Optional(name)?.Bool() ?? fallback;

    public IEnumerable<JsonField> Items()
    {
        if (Value.ValueKind != JsonValueKind.Array) throw Error($"expected an array, found {Value.ValueKind}");
        int i = 0;
        foreach (var item in Value.EnumerateArray()) yield return new JsonField(item, File, $"{Path}[{i++}]");
    }

    public IEnumerable<(string Name, JsonField Value)> Members()
    {
        if (Value.ValueKind != JsonValueKind.Object) throw Error($"expected an object, found {Value.ValueKind}");
        foreach (var member in Value.EnumerateObject()) yield return (member.Name, Child(member.Value, member.Name));
    }

    private JsonField Child(JsonElement value, string name) => new(value, File, Path.Length == 0 ? name : $"{Path}.{name}");
}
