namespace Reins.Alignment.Training;

/// <summary>
/// Each metric's mean over the steps since the last logged row, as transformers logs every logging_steps: a metric
/// missing from some steps is averaged over the steps that reported it.
/// </summary>
public sealed class MetricsWindow
{
    private readonly Dictionary<string, (double Sum, int Count)> sums = [];

    /// <summary>Adds one step's metrics.</summary>
    public void Add(IReadOnlyDictionary<string, double> metrics)
    {
        foreach (var (k, v) in metrics) sums[k] = (sums.GetValueOrDefault(k).Sum + v, sums.GetValueOrDefault(k).Count + 1);
    }

    /// <summary>The means so far, emptying the window.</summary>
    public Dictionary<string, double> Flush()
    {
        var row = sums.ToDictionary(kv => kv.Key, kv => kv.Value.Sum / kv.Value.Count);
        sums.Clear();
        return row;
    }
}
