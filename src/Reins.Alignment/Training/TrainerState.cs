using System.Text.Json;
using System.Text.Json.Serialization;

namespace Reins.Alignment.Training;

/// <summary>Where a run stands at a checkpoint (trainer_state.json, as transformers names it).</summary>
public sealed record TrainerState(
    [property: JsonPropertyName("global_step")] long GlobalStep,
    [property: JsonPropertyName("epoch")] double Epoch,
    [property: JsonPropertyName("max_steps")] long MaxSteps)
{
    /// <summary>File name inside a checkpoint directory.</summary>
    public const string FileName = "trainer_state.json";

    /// <summary>Writes the state atomically.</summary>
    public void Save(string directory) => RunDirectory.WriteAtomically(Path.Combine(directory, FileName), JsonSerializer.Serialize(this));

    /// <summary>Reads a state written by <see cref="Save"/>.</summary>
    public static TrainerState Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        try { return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid trainer state: {e.Message}"); }
    }
}
