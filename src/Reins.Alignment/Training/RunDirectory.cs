using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;

using Reins.Tensors.Distributed;

namespace Reins.Alignment.Training;

/// <summary>
/// The layout of a run's output_dir: metrics.jsonl (one JSON object per logging or evaluation step, with "step"),
/// checkpoint-N/ directories (model, optimizer.safetensors, data_cursor.json, trainer_state.json), and the final
/// model's files in the directory itself. Its config.json serves both readers: it is the model's Hugging Face
/// config (so transformers loads the directory) with the resolved run settings under <see cref="SettingsKey"/>
/// (transformers keeps unknown keys as inert attributes). Everything is written to a temporary path and renamed.
/// </summary>
public sealed class RunDirectory
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The output directory.</summary>
    public string Path { get; }

    /// <summary>Opens (creating if needed) a run directory.</summary>
    public RunDirectory(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        if (File.Exists(Path)) throw new IOException($"{Path}: output_dir is a file, not a directory.");
        Directory.CreateDirectory(Path);
    }

    /// <summary>The lock file a running run holds (an OS lock, released when its process ends, however it ends).</summary>
    public const string LockFileName = ".reins-lock";

    /// <summary>
    /// Claims the directory for one run until the returned lease is disposed. A second run on it — a resume started
    /// while the first still trains — is refused, since both would write the same checkpoints. A fresh run (not
    /// <paramref name="resume"/>) needs the directory empty, as transformers' example scripts do, so an earlier run's
    /// metrics and checkpoints never mix with its own (and a later resume never picks up the earlier run's checkpoint);
    /// with <paramref name="overwrite"/> the earlier run's metrics.jsonl and checkpoints are removed instead.
    /// </summary>
    public IDisposable Claim(bool resume, bool overwrite)
    {
        var lockPath = System.IO.Path.Combine(Path, LockFileName);
        FileStream lease;
        // FileShare.None takes an exclusive flock on Unix (and a share lock on Windows), which other processes honour.
        try { lease = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException))
        {
            throw new IOException($"{Path}: another run is using this output directory (it holds {LockFileName}); wait for it to end, or choose another output_dir.", e);
        }
        try
        {
            // What a run killed mid-save (kill -9, a full disk) left half-written; no one else writes here while the lease is held.
            foreach (var staging in Directory.GetDirectories(Path, ".*.tmp-*").Append(System.IO.Path.Combine(Path, ".final-model")).Where(Directory.Exists))
                Directory.Delete(staging, recursive: true);
            foreach (var staging in Directory.GetFiles(Path, "*.tmp")) File.Delete(staging);
            if (!resume && Directory.EnumerateFileSystemEntries(Path).Any(e => System.IO.Path.GetFileName(e) != LockFileName))
            {
                if (!overwrite)
                    throw new IOException($"{Path}: output_dir already holds files of an earlier run; pass --resume to continue it, --overwrite-output-dir to start over in it, or choose another output_dir.");
                if (File.Exists(MetricsPath)) File.Delete(MetricsPath);
                foreach (var checkpoint in Directory.GetDirectories(Path, "checkpoint-*")) Directory.Delete(checkpoint, recursive: true);
            }
            return lease;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>metrics.jsonl.</summary>
    public string MetricsPath => System.IO.Path.Combine(Path, "metrics.jsonl");

    /// <summary>The config.json key holding the run settings.</summary>
    public const string SettingsKey = "reins_run_settings";

    private JsonObject? settings;

    /// <summary>
    /// Starts a run here: claims the directory until the lease is disposed (<see cref="Claim"/>), writes config.json
    /// with the resolved <paramref name="settings"/>, and, on a fresh start whose tokenisation dropped records or left
    /// some with nothing to learn from, logs its counts as a step-0 metrics row.
    /// </summary>
    public IDisposable Start(ITrainerConfig settings, ModelConfig model, TokenizationReport? data, bool resume)
    {
        // In a data-parallel run rank 0 owns the directory; the others only read its checkpoints when resuming.
        if (!World.IsMain) return new MemoryStream();
        var lease = Claim(resume, settings.Training.OverwriteOutputDir);
        try
        {
            WriteConfig(ConfigBinder.ToJson(settings), model);
            if (!resume && data is { LostRecords: true }) AppendMetrics(0, data.Metrics());
            return lease;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    // config.json: the model's HF config with the run settings beside it.
    private void WriteConfig(JsonObject runSettings, ModelConfig model, SafeTensorsDType dtype = SafeTensorsDType.F32)
    {
        settings = runSettings;
        var o = model.ToHuggingFace();
        o["torch_dtype"] = HfCheckpoint.DtypeName(dtype);
        o[SettingsKey] = runSettings.DeepClone();
        WriteAtomically(System.IO.Path.Combine(Path, "config.json"), o.ToJsonString(Indented));
    }

    /// <summary>Appends one metrics row; every value is written, NaN as null so the file stays valid JSON.</summary>
    public void AppendMetrics(long step, IReadOnlyDictionary<string, double> metrics)
    {
        if (!World.IsMain) return;
        var o = new JsonObject { ["step"] = step };
        foreach (var (k, v) in metrics) o[k] = double.IsFinite(v) ? v : null;
        File.AppendAllText(MetricsPath, o.ToJsonString() + "\n");
    }

    /// <summary>Keeps only metrics rows with step ≤ <paramref name="step"/>: a resumed run re-logs what came after its checkpoint.</summary>
    public void TruncateMetricsAfter(long step)
    {
        if (!World.IsMain || !File.Exists(MetricsPath)) return;
        var kept = File.ReadLines(MetricsPath).Where(l => !string.IsNullOrWhiteSpace(l) && JsonNode.Parse(l)?["step"]?.GetValue<long>() <= step).ToList();
        WriteAtomically(MetricsPath, string.Concat(kept.Select(l => l + "\n")));
    }

    /// <summary>Directory of the checkpoint at <paramref name="step"/>.</summary>
    public string CheckpointPath(long step) => System.IO.Path.Combine(Path, $"checkpoint-{step}");

    /// <summary>Existing checkpoints, oldest first.</summary>
    public IReadOnlyList<(long Step, string Path)> Checkpoints() => Directory.Exists(Path)
        ? [.. Directory.GetDirectories(Path, "checkpoint-*")
            .Select(d => (Ok: long.TryParse(System.IO.Path.GetFileName(d)["checkpoint-".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out long s), Step: s, Path: d))
            .Where(c => c.Ok && File.Exists(System.IO.Path.Combine(c.Path, TrainerState.FileName)))
            .Select(c => (c.Step, c.Path)).OrderBy(c => c.Step)]
        : [];

    /// <summary>Removes the oldest checkpoints beyond <paramref name="limit"/> (0 = keep all).</summary>
    public void PruneCheckpoints(int limit)
    {
        if (limit <= 0 || !World.IsMain) return;
        var all = Checkpoints();
        for (int i = 0; i < all.Count - limit; i++) Directory.Delete(all[i].Path, recursive: true);
    }

    /// <summary>Writes the final model's files into the run directory in <paramref name="dtype"/>, keeping the run settings in its config.json.</summary>
    public void SaveFinalModel(CausalLanguageModel model, Action<string>? writeExtraFiles, SafeTensorsDType dtype = SafeTensorsDType.F32)
    {
        if (!World.IsMain) return;
        // Saved whole into a staging directory, then each file is renamed into place.
        var staging = System.IO.Path.Combine(Path, ".final-model");
        HfCheckpoint.Save(model, staging, writeExtraFiles, dtype);
        foreach (var file in Directory.GetFiles(staging))
            File.Move(file, System.IO.Path.Combine(Path, System.IO.Path.GetFileName(file)), overwrite: true);
        Directory.Delete(staging, recursive: true);
        // Weights of the other kind (an earlier full model beside a LoRA adapter, or the reverse) would be read instead.
        var stale = model.Lora is not null ? Directory.GetFiles(Path, "model*.safetensors*") : Directory.GetFiles(Path, "adapter_*");
        foreach (var file in stale) File.Delete(file);
        if (settings is not null) WriteConfig(settings, model.Config, dtype);
    }

    /// <summary>Writes a small state record of a checkpoint (trainer_state.json, online_state.json) as JSON, atomically.</summary>
    public static void SaveState<T>(string directory, string fileName, T state) =>
        WriteAtomically(System.IO.Path.Combine(directory, fileName), JsonSerializer.Serialize(state));

    /// <summary>Reads a state record written by <see cref="SaveState"/>; a malformed file is an error naming it.</summary>
    public static T LoadState<T>(string directory, string fileName)
    {
        var path = System.IO.Path.Combine(directory, fileName);
        try { return JsonSerializer.Deserialize<T>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid {typeof(T).Name}: {e.Message}"); }
    }

    /// <summary>Writes <paramref name="text"/> to a temporary file and renames it over <paramref name="path"/>.</summary>
    public static void WriteAtomically(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
