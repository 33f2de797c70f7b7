using System.Text.Json;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;

namespace Reins.Farm.Report;

/// <summary>A method's gold reward and win outcome against SFT on each held-out prompt, in prompt order.</summary>
/// <param name="Gold">Gold reward per prompt.</param>
/// <param name="Win">Evaluator-pool outcome against SFT per prompt (1 win, 0.5 tie, 0 loss); empty for SFT.</param>
public sealed record PromptValues(
    [property: JsonPropertyName("gold")] IReadOnlyList<double> Gold,
    [property: JsonPropertyName("win")] IReadOnlyList<double> Win);

/// <summary>
/// per_prompt.json beside results.json: every method's per-prompt values, which a multi-seed summary resamples (seeds,
/// then prompts within each seed) for its intervals.
/// </summary>
public sealed record PerPromptValues([property: JsonPropertyName("methods")] IReadOnlyDictionary<string, PromptValues> Methods)
{
    /// <summary>The file name inside a run's output directory.</summary>
    public const string FileName = "per_prompt.json";

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/>.</summary>
    public void Write(string directory) => RunDirectory.WriteAtomically(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, PerPromptJsonContext.Default.PerPromptValues) + "\n");

    /// <summary>Reads <see cref="FileName"/> from <paramref name="directory"/>.</summary>
    public static PerPromptValues Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        try { return JsonSerializer.Deserialize(File.ReadAllText(path), PerPromptJsonContext.Default.PerPromptValues) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a farm run's per-prompt values ({e.Message})."); }
    }
}

[JsonSerializable(typeof(PerPromptValues))]
internal sealed partial class PerPromptJsonContext : JsonSerializerContext;
