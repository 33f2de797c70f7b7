using System.Text.Json.Serialization;
using Reins.Alignment.Training;

namespace Reins.Alignment.Online;

/// <summary>What an online run carries between steps besides weights, optimiser, RNG and data position (online_state.json).</summary>
public sealed record OnlineState(
    [property: JsonPropertyName("kl_coef")] float KlCoefficient,
    [property: JsonPropertyName("episode")] long Episode)
{
    /// <summary>File name inside a checkpoint directory.</summary>
    public const string FileName = "online_state.json";

    /// <summary>Writes the state atomically.</summary>
    public void Save(string directory) => RunDirectory.SaveState(directory, FileName, this);

    /// <summary>Reads a state written by <see cref="Save"/>.</summary>
    public static OnlineState Load(string directory) => RunDirectory.LoadState<OnlineState>(directory, FileName);
}
