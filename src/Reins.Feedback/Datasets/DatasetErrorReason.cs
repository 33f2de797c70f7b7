namespace Reins.Feedback.Datasets;

/// <summary>Why a line was rejected; the key under which skipped lines are counted.</summary>
public enum DatasetErrorReason
{
    /// <summary>The line is not valid JSON.</summary>
    MalformedJson,
    /// <summary>The line is JSON but not an object.</summary>
    NotAnObject,
    /// <summary>The keys fit no known format (auto-detection only).</summary>
    UnknownFormat,
    /// <summary>A field the format needs is absent.</summary>
    MissingField,
    /// <summary>A field has the wrong JSON type, or the other style (text vs messages) than the dataset.</summary>
    WrongType,
    /// <summary>A field has the right type but an unusable value (an empty message list, ranks that do not match the completions, …).</summary>
    InvalidValue,
    /// <summary>The line's bytes are not UTF-8, or a string escapes a lone surrogate: no text to train on.</summary>
    InvalidText,
    /// <summary>The file is of another format than the caller needs (a prompt–completion file given to DPO).</summary>
    WrongFormat,
    /// <summary>The file holds no record at all.</summary>
    EmptyDataset,
}
