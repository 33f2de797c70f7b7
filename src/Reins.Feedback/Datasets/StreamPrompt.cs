using System.Globalization;
using System.Text.Json;

namespace Reins.Feedback.Datasets;

/// <summary>
/// One prompt of a timestamped stream (JailbreaksOverTime's replay): <c>{"time", "prompt", "label"?}</c>, time an ISO
/// 8601 date or date-time (UTC unless it says otherwise), label true or 1 for a jailbreak, false or 0 for a benign
/// prompt, absent or null when unknown.
/// </summary>
public sealed record StreamPrompt(DateTimeOffset Time, string Prompt, bool? Jailbreak, int Line)
{
    /// <summary>Reads a stream file; a bad record is a <see cref="DatasetException"/> naming the file, line and field.</summary>
    public static IReadOnlyList<StreamPrompt> ReadJsonl(string path)
    {
        var prompts = new List<StreamPrompt>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonElement root;
            try { root = JsonDocument.Parse(text).RootElement; }
            catch (JsonException e) { throw new DatasetException(path, line, null, DatasetErrorReason.MalformedJson, e.Message); }
            if (root.ValueKind != JsonValueKind.Object) throw new DatasetException(path, line, null, DatasetErrorReason.NotAnObject, "expected a JSON object");
            JsonElement Required(string field) => root.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? v
                : throw new DatasetException(path, line, field, DatasetErrorReason.MissingField, "required");
            var time = Required("time");
            if (time.ValueKind != JsonValueKind.String || !DateTimeOffset.TryParse(time.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when))
                throw new DatasetException(path, line, "time", DatasetErrorReason.InvalidValue, $"not an ISO 8601 date or date-time: {time.GetRawText()}");
            var prompt = Required("prompt");
            if (prompt.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(prompt.GetString()))
                throw new DatasetException(path, line, "prompt", DatasetErrorReason.WrongType, "must be a non-empty string");
            bool? label = root.TryGetProperty("label", out var l) ? l.ValueKind switch
            {
                JsonValueKind.Null => null,
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Number when l.TryGetInt32(out int n) && n is 0 or 1 => n == 1,
                _ => throw new DatasetException(path, line, "label", DatasetErrorReason.InvalidValue, $"must be true/1 (jailbreak), false/0 (benign) or null, not {l.GetRawText()}"),
            } : null;
            prompts.Add(new StreamPrompt(when, prompt.GetString()!, label, line));
        }
        if (prompts.Count == 0) throw new DatasetException(path, null, null, DatasetErrorReason.EmptyDataset, "no prompts");
        return prompts;
    }
}
