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
        if (!File.Exists(path) && !Directory.Exists(path)) throw new FileNotFoundException($"{path}: corpus file not found", path);
        bool? jsonl = null;
        foreach (var line in Utf8Lines.Read(path))
        {
            var text = line.Text ?? throw new InvalidDataException($"{path}: line {line.Number}: {line.Problem}");
            if (text.Length == 0) continue;
            jsonl ??= text.TrimStart().StartsWith('{');
            yield return jsonl.Value ? TextOf(text, $"{path}: line {line.Number}") : text;
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
            if (text.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{where}: field \"text\" is {text.ValueKind}, expected a string");
            return JsonText.StringOrNull(text) ?? throw new InvalidDataException($"{where}: field \"text\" {JsonText.LoneSurrogate}");
        }
    }
}
