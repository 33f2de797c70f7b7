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

    /// <summary>A string field, or an error naming the record and the field.</summary>
    public static string Text(JsonNode? node, string at, string field) =>
        node is JsonValue v && v.TryGetValue(out string? s) ? s : throw new InvalidDataException($"{at}: $.{field} must be a string.");
}
