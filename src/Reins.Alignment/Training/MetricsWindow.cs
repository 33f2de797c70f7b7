using System.Text.Json.Serialization;

namespace Reins.Alignment.Training;

/// <summary>
/// Each metric's mean over the steps since the last logged row, as transformers logs every logging_steps: a metric
/// missing from some steps is averaged over the steps that reported it. A checkpoint keeps the open window, so the
/// first row a resumed run logs averages the same steps as the uninterrupted run's.
/// </summary>
public sealed class MetricsWindow
{
    private readonly Dictionary<string, MetricSum> sums = [];

    /// <summary>Adds one step's metrics.</summary>
    public void Add(IReadOnlyDictionary<string, double> metrics)
    {
        foreach (var (k, v) in metrics) sums[k] = new(sums.GetValueOrDefault(k).Sum + v, sums.GetValueOrDefault(k).Count + 1);
    }

    /// <summary>The means so far, emptying the window.</summary>
    public Dictionary<string, double> Flush()
    {
        var row = sums.ToDictionary(kv => kv.Key, kv => kv.Value.Sum / kv.Value.Count);
        sums.Clear();
        return row;
    }

    /// <summary>The sums not yet logged, for a checkpoint.</summary>
    public Dictionary<string, MetricSum> Pending() => new(sums);

    /// <summary>Reopens the window a checkpoint saved.</summary>
    public void Restore(IReadOnlyDictionary<string, MetricSum>? pending)
    {
        sums.Clear();
        foreach (var (k, v) in pending ?? new Dictionary<string, MetricSum>()) sums[k] = v;
    }
}

/// <summary>A metric's sum over the steps of a logging window that reported it, and their count.</summary>
public readonly record struct MetricSum(
    [property: JsonPropertyName("sum"), JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)] double Sum,
    [property: JsonPropertyName("count")] int Count);
