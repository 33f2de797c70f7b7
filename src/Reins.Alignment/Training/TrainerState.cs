using System.Text.Json.Serialization;

namespace Reins.Alignment.Training;

/// <summary>Where a run stands at a checkpoint (trainer_state.json, as transformers names it).</summary>
public sealed record TrainerState(
    [property: JsonPropertyName("global_step")] long GlobalStep,
    [property: JsonPropertyName("epoch")] double Epoch,
    [property: JsonPropertyName("max_steps")] long MaxSteps,
    [property: JsonPropertyName("log_window")] Dictionary<string, MetricSum>? LogWindow = null)
{
    /// <summary>File name inside a checkpoint directory.</summary>
    public const string FileName = "trainer_state.json";

    /// <summary>Writes the state atomically.</summary>
    public void Save(string directory) => RunDirectory.SaveState(directory, FileName, this);

    /// <summary>Reads a state written by <see cref="Save"/>.</summary>
    public static TrainerState Load(string directory) => RunDirectory.LoadState<TrainerState>(directory, FileName);
}
