using System.Text.Json;

namespace Reins.Farm.Report;

/// <summary>One logged metric of one method's training run, as (x, value) pairs, for the report's training curves.</summary>
/// <param name="Method">The method whose run logged it.</param>
/// <param name="Metric">The metrics.jsonl key, e.g. "loss" or "objective/kl".</param>
/// <param name="Points">The logged values in order of <paramref name="X"/>.</param>
/// <param name="X">The metrics.jsonl key of the x axis: "step", or "episode" (completions sampled so far).</param>
public sealed record TrainingCurve(string Method, string Metric, IReadOnlyList<(long Step, double Value)> Points, string X = "step")
{
    /// <summary>
    /// The curves of <paramref name="metrics"/> from a run's metrics.jsonl (one JSON object per line with "step", as
    /// trainers write it) against <paramref name="x"/>; rows without the metric or x, or with null for either, are skipped.
    /// </summary>
    public static IReadOnlyList<TrainingCurve> FromMetricsJsonl(string method, string path, IReadOnlyList<string> metrics, string x = "step")
    {
        var points = metrics.ToDictionary(m => m, _ => new List<(long, double)>());
        foreach (string line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var row = JsonDocument.Parse(line);
            if (!row.RootElement.TryGetProperty(x, out var at) || at.ValueKind != JsonValueKind.Number) continue;
            foreach (var (metric, list) in points)
                if (row.RootElement.TryGetProperty(metric, out var value) && value.ValueKind == JsonValueKind.Number)
                    list.Add(((long)at.GetDouble(), value.GetDouble()));
        }
        return [.. metrics.Select(m => new TrainingCurve(method, m, points[m], x))];
    }
}
