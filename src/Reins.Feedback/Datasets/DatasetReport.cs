using Reins.Models.Chat;
using System.Text;

namespace Reins.Feedback.Datasets;

/// <summary>
/// What reading a dataset found, for the trainers to log: the detected format, how many lines became records, and
/// every line that did not, counted by reason, so no data disappears without a number saying so.
/// </summary>
public sealed class DatasetReport
{
    private readonly Dictionary<DatasetErrorReason, int> skipped = [];
    private readonly Dictionary<DatasetErrorReason, string> firstErrors = [];
    private readonly Dictionary<string, int> ignoredMessageKeys = [];

    internal DatasetReport(string path) => FilePath = path;

    /// <summary>The file read.</summary>
    public string FilePath { get; }

    /// <summary>The format in force (detected or given); <see cref="DatasetFormat.Auto"/> until a record has been read.</summary>
    public DatasetFormat Format { get; internal set; }

    /// <summary>Standard or conversational, set by the first record.</summary>
    public DatasetStyle? Style { get; internal set; }

    /// <summary>For the ratings format, the attribute names in target-vector order.</summary>
    public IReadOnlyList<string>? RatingAttributes { get; internal set; }

    /// <summary>Lines read so far, blank ones included.</summary>
    public int Lines { get; internal set; }

    /// <summary>Lines holding only white space, which are allowed and ignored.</summary>
    public int BlankLines { get; internal set; }

    /// <summary>Records produced.</summary>
    public int Records { get; internal set; }

    /// <summary>Lines skipped as invalid, by reason (only with <see cref="DatasetReadOptions.SkipInvalid"/>).</summary>
    public IReadOnlyDictionary<DatasetErrorReason, int> Skipped => skipped;

    /// <summary>The first error message of each skipped reason, so a log shows an instance of what went wrong.</summary>
    public IReadOnlyDictionary<DatasetErrorReason, string> FirstErrors => firstErrors;

    /// <summary>Keys of message objects other than role and content (e.g. <c>name</c>), which are not carried into <see cref="ChatMessage"/>.</summary>
    public IReadOnlyDictionary<string, int> IgnoredMessageKeys => ignoredMessageKeys;

    /// <summary>All skipped lines.</summary>
    public int SkippedTotal => skipped.Values.Sum();

    internal void Skip(DatasetException error)
    {
        skipped[error.Reason] = skipped.GetValueOrDefault(error.Reason) + 1;
        firstErrors.TryAdd(error.Reason, error.Message);
    }

    internal void IgnoreMessageKey(string key) => ignoredMessageKeys[key] = ignoredMessageKeys.GetValueOrDefault(key) + 1;

    /// <summary>One line for a training log, e.g. <c>prefs.jsonl: preference (conversational), 998 records from 1003 lines; 2 blank; skipped 3 (MalformedJson 2, MissingField 1)</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder($"{FilePath}: {Format}");
        if (Style is { } style) sb.Append($" ({style})");
        sb.Append($", {Records} records from {Lines} lines; {BlankLines} blank");
        if (skipped.Count > 0)
            sb.Append($"; skipped {SkippedTotal} ({string.Join(", ", skipped.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"))})");
        if (ignoredMessageKeys.Count > 0)
            sb.Append($"; ignored message keys {string.Join(", ", ignoredMessageKeys.Select(kv => $"{kv.Key} ×{kv.Value}"))}");
        return sb.ToString();
    }
}
