using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Alignment.Training;

namespace Reins.Cli.Commands.Training;

/// <summary>
/// training_data.json in a run directory: the data files a CLI run read (absolute paths), so that what was trained on
/// can be checked later — `reins safety-test` refuses held-out prompts the policy saw.
/// </summary>
internal static class TrainingData
{
    /// <summary>File name inside a run directory.</summary>
    public const string FileName = "training_data.json";

    /// <summary>Writes the record (atomically) into <paramref name="runDirectory"/>.</summary>
    public static void Record(string runDirectory, IEnumerable<string> files)
    {
        var o = new JsonObject { ["files"] = new JsonArray([.. files.Select(f => (JsonNode)Path.GetFullPath(f))]) };
        RunDirectory.WriteAtomically(Path.Combine(runDirectory, FileName), o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>
    /// The data files recorded for the model in <paramref name="directory"/> (a run, or one of its checkpoint-N
    /// directories), or null when it holds no record (a model not trained by a Reins command).
    /// </summary>
    public static IReadOnlyList<string>? Read(string directory)
    {
        var full = Path.GetFullPath(directory);
        var path = new[] { full, Path.GetDirectoryName(full) ?? full }.Select(d => Path.Combine(d, FileName)).FirstOrDefault(File.Exists);
        if (path is null) return null;
        try
        {
            return [.. JsonNode.Parse(File.ReadAllText(path))!["files"]!.AsArray().Select(f => f!.GetValue<string>())];
        }
        catch (Exception e) when (e is JsonException or NullReferenceException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: files: not the list of data files a Reins run records ({e.Message}).");
        }
    }
}
