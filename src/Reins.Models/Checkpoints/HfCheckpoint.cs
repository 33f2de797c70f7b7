using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Models.Transformers;

namespace Reins.Models.Checkpoints;

/// <summary>
/// Hugging Face checkpoint directories: config.json + model.safetensors with HF parameter names, written to a
/// temporary directory and renamed into place so an interrupted save never leaves a half-written checkpoint.
/// </summary>
public static class HfCheckpoint
{
    /// <summary>Saves the model's weights and config.json into <paramref name="directory"/> (replacing it).</summary>
    public static void Save(CausalLanguageModel model, string directory)
    {
        var full = Path.GetFullPath(directory);
        var parent = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(parent);
        var tmp = Path.Combine(parent, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        File.WriteAllText(Path.Combine(tmp, "config.json"), model.Config.ToHuggingFace().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        SafeTensorsWriter.Write(Path.Combine(tmp, "model.safetensors"),
            model.Parameters.Select(p => (p.Name!, p.Shape, p.ToArray())));
        if (Directory.Exists(full))
        {
            var old = full + ".old-" + Environment.ProcessId;
            Directory.Move(full, old);
            Directory.Move(tmp, full);
            Directory.Delete(old, recursive: true);
        }
        else Directory.Move(tmp, full);
    }

    /// <summary>Loads a model saved by <see cref="Save"/> (or by transformers with the same names); every tensor must be present and shaped as config.json says.</summary>
    public static CausalLanguageModel Load(string directory)
    {
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: no config.json (not a checkpoint directory?).", configPath);
        JsonObject json;
        try { json = JsonNode.Parse(File.ReadAllText(configPath))?.AsObject() ?? throw new InvalidDataException($"{configPath}: empty."); }
        catch (JsonException e) { throw new InvalidDataException($"{configPath}: invalid JSON at line {e.LineNumber + 1}: {e.Message}"); }
        var config = ModelConfig.FromHuggingFace(json, configPath);
        var model = CausalLanguageModel.Create(config, seed: 0);
        var weightsPath = Path.Combine(directory, "model.safetensors");
        var reader = new SafeTensorsReader(weightsPath);
        foreach (var p in model.Parameters)
        {
            if (!reader.Contains(p.Name!)) throw new InvalidDataException($"{weightsPath}: tensor '{p.Name}' is missing.");
            model.Load(p.Name!, reader.ReadFloats(p.Name!), reader.Info(p.Name!).Shape, weightsPath);
        }
        return model;
    }
}
