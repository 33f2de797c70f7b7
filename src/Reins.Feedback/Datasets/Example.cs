using System.Collections.Frozen;
using System.Text.Json;

namespace Reins.Feedback.Datasets;

/// <summary>
/// One record of a dataset. Fields the format does not consume stay in <see cref="Extra"/>, because reward
/// functions (an <c>answer</c> to check against) and per-category evaluation (a <c>category</c>) need them.
/// </summary>
public abstract record Example
{
    /// <summary>Fields of the record beyond those of its format, by name.</summary>
    public IReadOnlyDictionary<string, JsonElement> Extra { get; init; } = FrozenDictionary<string, JsonElement>.Empty;

    /// <summary>1-based line of the record in its file (0 for records built in code), so later stages can point back at it.</summary>
    public int Line { get; init; }
}
