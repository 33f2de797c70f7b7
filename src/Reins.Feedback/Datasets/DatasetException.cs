namespace Reins.Feedback.Datasets;

/// <summary>
/// A dataset file that cannot be used as it is. The message reads like a compiler's,
/// <c>prefs.jsonl:17: field "chosen": expected a string or a list of messages, got number</c>, so the line can be found and fixed.
/// </summary>
public sealed class DatasetException : Exception
{
    /// <summary>Creates the error and composes its message from the parts.</summary>
    public DatasetException(string path, int? line, string? field, DatasetErrorReason reason, string detail)
        : base(Compose(path, line, field, detail))
    {
        FilePath = path;
        LineNumber = line;
        Field = field;
        Reason = reason;
        Detail = detail;
    }

    /// <summary>The file, as the caller named it.</summary>
    public string FilePath { get; }

    /// <summary>1-based line, or null for errors about the whole file.</summary>
    public int? LineNumber { get; }

    /// <summary>The offending field (a path such as <c>messages[2].role</c>), or null when the line as a whole is at fault.</summary>
    public string? Field { get; }

    /// <summary>The class of error.</summary>
    public DatasetErrorReason Reason { get; }

    /// <summary>The message without the location.</summary>
    public string Detail { get; }

    private static string Compose(string path, int? line, string? field, string detail) =>
        (line is null ? path : $"{path}:{line}") + (field is null ? ": " : $": field \"{field}\": ") + detail;
}
