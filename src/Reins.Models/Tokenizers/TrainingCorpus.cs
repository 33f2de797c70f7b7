using System.Text.Json;

namespace Reins.Models.Tokenizers;

/// <summary>Reads a training corpus: plain text with one document per line, or JSONL whose objects carry "text".</summary>
public static class TrainingCorpus
{
    /// <summary>
    /// The documents of <paramref name="path"/>, lazily. A file is JSONL when its first non-empty line starts
    /// with '{'; then every non-empty line must be an object with a string "text".
    /// </summary>
    public static IEnumerable<string> ReadDocuments(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: corpus file not found", path);
        bool? jsonl = null;
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            jsonl ??= line.TrimStart().StartsWith('{');
            yield return jsonl.Value ? TextOf(line, $"{path}: line {lineNumber}") : line;
        }
    }

    /// <summary>The "text" string of one JSON object line; <paramref name="where"/> prefixes error messages.</summary>
    public static string TextOf(string line, string where)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(line); }
        catch (JsonException e) { throw new InvalidDataException($"{where}: not valid JSON ({e.Message})", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected a JSON object");
            if (!document.RootElement.TryGetProperty("text", out var text)) throw new InvalidDataException($"{where}: missing field \"text\"");
            return text.ValueKind == JsonValueKind.String ? text.GetString()! : throw new InvalidDataException($"{where}: field \"text\" is {text.ValueKind}, expected a string");
        }
    }
}
