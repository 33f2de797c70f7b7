using System.Text.Json;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;
using Reins.Farm.Pipeline;

namespace Reins.Farm.Report;

/// <summary>
/// results.json: everything a farm run measured, in the schema of the farm's issue (snake_case keys). Written with
/// source-generated System.Text.Json, so the keys are the attributes' and nothing depends on reflection.
/// </summary>
/// <param name="Task">The task's name.</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="Config">The settings the run used: every size, step count, learning rate and seed offset.</param>
/// <param name="Annotators">Agreement of the training annotator pool.</param>
/// <param name="Methods">One row per method, sft first.</param>
/// <param name="Overoptimization">The over-optimisation curves.</param>
public sealed record FarmResults(
    [property: JsonPropertyName("task")] string Task,
    [property: JsonPropertyName("seed")] ulong Seed,
    [property: JsonPropertyName("config")] FarmConfig Config,
    [property: JsonPropertyName("annotators")] AnnotatorResults Annotators,
    [property: JsonPropertyName("methods")] IReadOnlyList<MethodResult> Methods,
    [property: JsonPropertyName("overoptimization")] OveroptimizationResults Overoptimization)
{
    /// <summary>The process-supervision study, on a step-by-step task; null on the others.</summary>
    [JsonPropertyName("process_supervision"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ProcessSupervisionResults? ProcessSupervision { get; init; }

    /// <summary>
    /// "dev" for a development seed (<see cref="FarmConfig.DevelopmentSeeds"/>, which tuning may read), "test" for any
    /// other; a multi-seed summary refuses to mix them.
    /// </summary>
    [JsonPropertyName("split"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Split { get; init; }

    /// <summary>The safety study, on a safety task; null on the others.</summary>
    [JsonPropertyName("safety"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SafetyResults? Safety { get; init; }

    /// <summary>The cyclic study, on a cyclic task; null on the others.</summary>
    [JsonPropertyName("cyclic"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CyclicResults? Cyclic { get; init; }

    /// <summary>The pluralistic study, on a pluralistic task; null on the others.</summary>
    [JsonPropertyName("pluralistic"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PluralisticResults? Pluralistic { get; init; }

    /// <summary>The file name inside a run's output directory.</summary>
    public const string FileName = "results.json";

    /// <summary>Indented JSON. Throws on NaN or infinity, which mean a measurement went wrong.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, FarmResultsJsonContext.Default.FarmResults);

    /// <summary>Parses results.json text.</summary>
    public static FarmResults FromJson(string json) =>
        JsonSerializer.Deserialize(json, FarmResultsJsonContext.Default.FarmResults) ?? throw new JsonException("results.json holds null");

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/> and returns its path.</summary>
    public string Write(string directory)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName);
        RunDirectory.WriteAtomically(path, ToJson() + "\n");
        return path;
    }

    /// <summary>Reads a results.json file.</summary>
    public static FarmResults Read(string path) => FromJson(File.ReadAllText(path));
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(FarmResults))]
[JsonSerializable(typeof(FarmConfig))]
internal sealed partial class FarmResultsJsonContext : JsonSerializerContext;
