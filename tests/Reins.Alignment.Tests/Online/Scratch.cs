using System.Text.Json.Nodes;

namespace Reins.Alignment.Tests.Online;

/// <summary>A temporary directory for run outputs, deleted afterwards.</summary>
internal sealed class Scratch : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("reins-online-").FullName;

    public string Dir(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>The rows of a run's metrics.jsonl.</summary>
    public static List<JsonObject> Metrics(string runDir) =>
        [.. File.ReadLines(System.IO.Path.Combine(runDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject())];

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
