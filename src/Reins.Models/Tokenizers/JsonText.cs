using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reins.Models.Tokenizers;

/// <summary>
/// JSON read strictly. System.Text.Json checks UTF-8 and escapes only when a string is read, and then throws
/// InvalidOperationException, far from the file: these read every string up front, so a file with bytes that are not
/// UTF-8, a repeated key or a lone surrogate escape is refused at load with an error naming it.
/// </summary>
public static class JsonText
{
    /// <summary>Why a string is refused when it escapes half a surrogate pair ("\ud800"): valid JSON, but no text.</summary>
    public const string LoneSurrogate = "holds a lone surrogate escape (one of \\ud800–\\udfff without its pair), which is not text";

    /// <summary>
    /// The text of a JSON string; null when the value is no string, or escapes a lone surrogate (System.Text.Json will
    /// not decode one).
    /// </summary>
    public static string? StringOrNull(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String) return null;
        try { return value.GetString(); }
        catch (InvalidOperationException) { return null; }
    }

    /// <summary>The bytes as UTF-8, or an error naming <paramref name="source"/> and the first bad byte.</summary>
    public static void RequireUtf8(ReadOnlySpan<byte> utf8, string source)
    {
        if (Utf8Lines.FirstInvalidByte(utf8) is var invalid and >= 0) throw new InvalidDataException($"{source}: not valid UTF-8 at byte {invalid + 1}.");
    }

    /// <summary>
    /// Parses <paramref name="utf8"/> (UTF-8 throughout, keys distinct, every string text); every failure is an
    /// <see cref="InvalidDataException"/> naming <paramref name="source"/>.
    /// </summary>
    public static JsonNode? Parse(ReadOnlyMemory<byte> utf8, string source)
    {
        RequireUtf8(utf8.Span, source);
        JsonNode? root;
        try { root = JsonNode.Parse(utf8.Span, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: invalid JSON{(e.LineNumber is { } line ? $" (line {line + 1})" : "")}: {e.Message}", e); }
        // Checking for repeated keys decodes every key, and fails on one that escapes a lone surrogate.
        catch (InvalidOperationException) { throw new InvalidDataException($"{source}: a key {LoneSurrogate}."); }
        foreach (var value in Descendants(root).OfType<JsonValue>().Where(v => v.GetValueKind() == JsonValueKind.String))
        {
            try { value.GetValue<string>(); }
            catch (InvalidOperationException) { throw new InvalidDataException($"{source}: {value.GetPath()} {LoneSurrogate}."); }
        }
        return root;
    }

    private static IEnumerable<JsonNode> Descendants(JsonNode? node)
    {
        if (node is null) yield break;
        yield return node;
        IEnumerable<JsonNode?> children = node switch
        {
            JsonObject o => o.Select(kv => kv.Value),
            JsonArray a => a,
            _ => [],
        };
        foreach (var child in children)
            foreach (var d in Descendants(child)) yield return d;
    }
}
