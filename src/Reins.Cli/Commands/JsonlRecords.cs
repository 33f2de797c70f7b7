using System.Text;
using System.Text.Json.Nodes;
using Reins.Models.Tokenizers;

namespace Reins.Cli.Commands;

/// <summary>
/// The records of a JSONL input file, strictly read (valid UTF-8, distinct keys, no lone surrogates), each with the
/// "file:line" its errors name; blank lines are skipped.
/// </summary>
internal static class JsonlRecords
{
    public static IEnumerable<(int Line, string At, JsonObject Record)> Read(string path)
    {
        foreach (var utf8 in Utf8Lines.Read(path))
        {
            string at = $"{path}:{utf8.Number}";
            var text = utf8.Text ?? throw new InvalidDataException($"{at}: {utf8.Problem}.");
            if (string.IsNullOrWhiteSpace(text)) continue;
            yield return (utf8.Number, at, JsonText.Parse(Encoding.UTF8.GetBytes(text), at) as JsonObject ?? throw new InvalidDataException($"{at}: a record must be a JSON object."));
        }
    }

    /// <summary>
    /// A pair of responses to one prompt: {"prompt", "completions": [a, b]}, or TRL's {"prompt", "chosen", "rejected"}, whose
    /// order is then a label (<paramref name="Labelled"/>).
    /// </summary>
    public static (string Prompt, string First, string Second, bool Labelled) Pair(JsonObject o, string at)
    {
        string prompt = Text(o["prompt"], at, "prompt");
        if (o["completions"] is JsonArray completions)
            return completions.Count == 2 ? (prompt, Text(completions[0], at, "completions[0]"), Text(completions[1], at, "completions[1]"), false)
                : throw new InvalidDataException($"{at}: $.completions must hold exactly two responses, not {completions.Count}.");
        if (o.ContainsKey("chosen") || o.ContainsKey("rejected")) return (prompt, Text(o["chosen"], at, "chosen"), Text(o["rejected"], at, "rejected"), true);
        throw new InvalidDataException($"{at}: a pair needs $.completions [a, b] or $.chosen and $.rejected.");
    }

    /// <summary>A string field, or an error naming the record and the field.</summary>
    public static string Text(JsonNode? node, string at, string field) =>
        node is JsonValue v && v.TryGetValue(out string? s) ? s : throw new InvalidDataException($"{at}: $.{field} must be a string.");
}
