using System.Globalization;
using Reins.Tensors;
using Reins.Models.Checkpoints;
using Reins.Tensors.Optim;

namespace Reins.Alignment.Training;

/// <summary>
/// Saves and restores what exact resumption needs beyond the weights: the optimiser's moment tensors, its step
/// count and learning rate, and the state of the run's random generator (optimizer.safetensors).
/// </summary>
public static class OptimizerState
{
    /// <summary>File name inside a checkpoint directory.</summary>
    public const string FileName = "optimizer.safetensors";

    /// <summary>Writes the optimiser (and optionally an RNG) state atomically.</summary>
    public static void Save(string path, Optimizer optimizer, Rng? rng = null)
    {
        var meta = new Dictionary<string, string>
        {
            ["optimizer"] = optimizer.GetType().Name,
            ["step"] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
            ["lr"] = optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture),
        };
        if (rng is not null) meta["rng"] = string.Join(",", rng.GetState().Select(x => x.ToString(CultureInfo.InvariantCulture)));
        SafeTensorsWriter.Write(path, optimizer.StateTensors().Select(s => (s.Name, new[] { s.Values.Length }, (ReadOnlyMemory<float>)s.Values)), meta);
    }

    /// <summary>Restores a state written by <see cref="Save"/> into an optimiser over the same named parameters.</summary>
    public static void Load(string path, Optimizer optimizer, Rng? rng = null)
    {
        var reader = new SafeTensorsReader(path);
        string Meta(string key) => reader.Metadata.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{path}: metadata field '{key}' is missing.");
        if (Meta("optimizer") != optimizer.GetType().Name)
            throw new InvalidDataException($"{path}: holds {Meta("optimizer")} state but the run uses {optimizer.GetType().Name}.");
        var tensors = reader.Tensors.ToDictionary(t => t.Name, t => reader.ReadFloats(t.Name));
        optimizer.LoadState(tensors, long.Parse(Meta("step"), CultureInfo.InvariantCulture));
        optimizer.LearningRate = float.Parse(Meta("lr"), CultureInfo.InvariantCulture);
        if (rng is not null) rng.SetState(Meta("rng").Split(',').Select(s => ulong.Parse(s, CultureInfo.InvariantCulture)).ToArray());
    }
}
