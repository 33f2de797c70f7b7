using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Models.Peft;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;

namespace Reins.Models.Checkpoints;

/// <summary>
/// Hugging Face checkpoint directories: config.json, generation_config.json and model.safetensors (or shards
/// listed in model.safetensors.index.json) with HF parameter names. Saves go to a temporary directory that is
/// renamed into place, so an interrupted save never leaves a half-written checkpoint.
/// </summary>
public static class HfCheckpoint
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// Saves the model into <paramref name="directory"/> (replacing it); a model with LoRA adapters saves as a PEFT
    /// adapter of its base (<see cref="PeftCheckpoint"/>). <paramref name="writeExtraFiles"/> receives
    /// the temporary directory so tokenizer files land in the same atomic rename. Weights larger than
    /// <paramref name="maxShardBytes"/> are split into model-0000i-of-0000N.safetensors shards with an index, as
    /// transformers' save_pretrained does (its default shard size is 5 GB).
    /// </summary>
    public static void Save(CausalLanguageModel model, string directory, Action<string>? writeExtraFiles = null, SafeTensorsDType dtype = SafeTensorsDType.F32,
        long maxShardBytes = 5_000_000_000)
    {
        var full = Path.GetFullPath(directory);
        var parent = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(parent);
        var tmp = Path.Combine(parent, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        try
        {
            Directory.CreateDirectory(tmp);
            if (model.Lora is not null) PeftCheckpoint.Save(model, tmp, dtype);
            else
            {
                var config = model.Config.ToHuggingFace();
                config["torch_dtype"] = DtypeName(dtype);
                File.WriteAllText(Path.Combine(tmp, "config.json"), config.ToJsonString(Indented));
                File.WriteAllText(Path.Combine(tmp, "generation_config.json"), GenerationConfig(model.Config).ToJsonString(Indented));
                WriteWeights(tmp, model, dtype, maxShardBytes);
            }
            writeExtraFiles?.Invoke(tmp);
        }
        catch (IOException e)
        {
            // A full disk, most often: the half-written staging directory goes, and the message says what the save needs.
            long written = Directory.Exists(tmp) ? new DirectoryInfo(tmp).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) : 0;
            try { Directory.Delete(tmp, recursive: true); }
            catch (IOException) { }
            long weights = model.Parameters.Sum(p => p.Size) * SafeTensorsReader.ElementSize(dtype);
            long free = new DriveInfo(parent).AvailableFreeSpace;
            throw new IOException($"{full}: could not save the checkpoint ({e.Message.TrimEnd('.')}); {Megabytes(free)} free on its disk, " +
                $"{Megabytes(written)} written before the failure, {Megabytes(weights)} of weights alone.", e);
        }
        if (Directory.Exists(full))
        {
            var old = full + ".old-" + Environment.ProcessId;
            Directory.Move(full, old);
            Directory.Move(tmp, full);
            Directory.Delete(old, recursive: true);
        }
        else Directory.Move(tmp, full);
    }

    private static string Megabytes(long bytes) => $"{bytes / 1e6:0.###} MB";

    private static void WriteWeights(string directory, CausalLanguageModel model, SafeTensorsDType dtype, long maxShardBytes)
    {
        // Greedy in parameter order, as transformers shards: a tensor larger than the limit gets a shard of its own.
        var shards = new List<List<Tensors.Tensor>> { new() };
        long size = 0, bytesPerValue = SafeTensorsReader.ElementSize(dtype);
        foreach (var p in model.Parameters)
        {
            long bytes = p.Size * bytesPerValue;
            if (size > 0 && size + bytes > maxShardBytes) { shards.Add([]); size = 0; }
            shards[^1].Add(p);
            size += bytes;
        }
        if (shards.Count == 1)
        {
            SafeTensorsWriter.Write(Path.Combine(directory, "model.safetensors"), model.Parameters.Select(p => (p.Name!, p.Shape, p.Memory)), dtype: dtype);
            return;
        }
        var map = new JsonObject();
        for (int i = 0; i < shards.Count; i++)
        {
            string file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafeTensorsWriter.Write(Path.Combine(directory, file), shards[i].Select(p => (p.Name!, p.Shape, p.Memory)), dtype: dtype);
            foreach (var p in shards[i]) map[p.Name!] = file;
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = model.Parameters.Sum(p => p.Size * bytesPerValue) }, ["weight_map"] = map };
        File.WriteAllText(Path.Combine(directory, "model.safetensors.index.json"), index.ToJsonString(Indented));
    }

    private static JsonObject GenerationConfig(ModelConfig c)
    {
        var o = new JsonObject();
        if (c.BosTokenId is { } bos) o["bos_token_id"] = bos;
        if (c.EosTokenId is { } eos) o["eos_token_id"] = eos;
        if (c.PadTokenId is { } pad) o["pad_token_id"] = pad;
        return o;
    }

    /// <summary>config.json's name for the dtype weights are written in.</summary>
    public static string DtypeName(SafeTensorsDType dtype) => dtype == SafeTensorsDType.BF16 ? "bfloat16" : "float32";

    /// <summary>The torch_dtype the checkpoint in <paramref name="directory"/> (an adapter's base, for an adapter) declares in its config.json, or null.</summary>
    public static string? DeclaredDtype(string directory)
    {
        if (Directory.Exists(directory) && PeftCheckpoint.IsAdapter(directory)) return DeclaredDtype(PeftCheckpoint.BaseDirectory(directory));
        var path = Path.Combine(directory, "config.json");
        return File.Exists(path) && JsonText.Parse(File.ReadAllBytes(path), path) is JsonObject o && o["torch_dtype"] is JsonValue v && v.TryGetValue(out string? name) ? name : null;
    }

    /// <summary>Reads and validates config.json of a checkpoint directory (of an adapter's base, for an adapter).</summary>
    public static ModelConfig LoadConfig(string directory)
    {
        if (Directory.Exists(directory) && PeftCheckpoint.IsAdapter(directory)) return LoadConfig(PeftCheckpoint.BaseDirectory(directory));
        if (File.Exists(directory))
            throw new FileNotFoundException($"{directory}: is a file; give the checkpoint directory that holds config.json{(Path.GetFileName(directory) == "config.json" ? $" ({Path.GetDirectoryName(directory)})" : "")}.", directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: no such checkpoint directory.");
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: the directory has no config.json (not a checkpoint directory?).", configPath);
        var json = JsonText.Parse(File.ReadAllBytes(configPath), configPath) as JsonObject ?? throw new InvalidDataException($"{configPath}: not a JSON object.");
        return ModelConfig.FromHuggingFace(json, configPath);
    }

    /// <summary>
    /// A checkpoint with its tokenizer, refused when the tokenizer has ids the model has no embedding for; an adapter
    /// directory without tokenizer files uses its base's.
    /// </summary>
    public static (CausalLanguageModel Model, Tokenizer Tokenizer) LoadWithTokenizer(string directory, Func<string, bool>? heldAsBf16 = null)
    {
        var model = Load(directory, heldAsBf16);
        string tokenizerDirectory = directory;
        while (PeftCheckpoint.IsAdapter(tokenizerDirectory) && !Directory.EnumerateFiles(tokenizerDirectory, "tokenizer*").Any() && !File.Exists(Path.Combine(tokenizerDirectory, Gpt2VocabFiles.VocabFile)))
            tokenizerDirectory = PeftCheckpoint.BaseDirectory(tokenizerDirectory);
        return (model, Tokenizer.Load(tokenizerDirectory).Fitting(model.Config.VocabSize, tokenizerDirectory));
    }

    /// <summary>
    /// Copies a checkpoint's weights into <paramref name="model"/> (resuming): a LoRA model reads only its adapter
    /// file, any other the whole checkpoint.
    /// </summary>
    public static void Restore(CausalLanguageModel model, string directory)
    {
        if (model.Lora is not null) PeftCheckpoint.Restore(model, directory);
        else model.CopyParametersFrom(Load(directory));
    }

    /// <summary>
    /// Loads a checkpoint saved by <see cref="Save"/> or by transformers: every parameter must be present and
    /// shaped as config.json says. Hub GPT-2 files without the <c>transformer.</c> prefix and with the
    /// <c>attn.bias</c>/<c>attn.masked_bias</c> buffers load too; any other tensor the model does not use is an
    /// error, since it usually means config.json describes a different model.
    /// </summary>
    public static CausalLanguageModel Load(string directory) => Load(directory, null);

    /// <summary>
    /// <see cref="Load(string)"/>, reading every weight matrix whose name <paramref name="heldAsBf16"/> accepts straight into
    /// bfloat16 and freezing it, as <see cref="CausalLanguageModel.StoreFrozenWeightsAsBf16"/> would leave it — but without
    /// its float32 values ever in memory, so a model held as bf16 (a frozen reference, a LoRA base) loads in its bf16 size.
    /// </summary>
    public static CausalLanguageModel Load(string directory, Func<string, bool>? heldAsBf16)
    {
        if (Directory.Exists(directory) && PeftCheckpoint.IsAdapter(directory)) return PeftCheckpoint.LoadMerged(directory, Load);
        var config = LoadConfig(directory);
        var files = OpenWeights(directory);
        // The model is allocated before any tensor is compared with it, which names the tensor that differs; a
        // config.json far larger than its weights (a corrupt or absurd one) is refused before that allocation.
        long held = files.Values.Distinct().SelectMany(r => r.Tensors).Sum(t => t.Count);
        long needed;
        try { needed = config.ParameterCount(); }
        catch (OverflowException) { needed = long.MaxValue; }
        if (needed > 2 * held + (1 << 20))
            throw new InvalidDataException($"{Path.Combine(directory, "config.json")}: describes a {config.Architecture} of {needed:N0} parameters, but its weights hold {held:N0} values; config.json and the weights are of different models.");
        CausalLanguageModel model;
        // Every parameter is read from the files next (a missing one is an error below), so none is sampled first.
        using (Reins.Tensors.Nn.Module.SkipInitialization()) model = CausalLanguageModel.Create(config, seed: 0);
        model.SourceDirectory = Path.GetFullPath(directory);
        var used = new HashSet<string>();
        var conv1d = model.Conv1DWeights();
        // GPT-2's Conv1D weights, read as float32 here one at a time, are held transposed as bf16.
        var scratch = heldAsBf16 is null ? null : new float[conv1d.Select(p => p.Size).DefaultIfEmpty(0).Max()];
        foreach (var p in model.Parameters)
        {
            string name = p.Name!;
            if (!files.ContainsKey(name) && name.StartsWith("transformer.", StringComparison.Ordinal) && files.ContainsKey(name["transformer.".Length..]))
                name = name["transformer.".Length..];
            if (!files.TryGetValue(name, out var reader))
                throw new InvalidDataException($"{Path.Combine(directory, "model.safetensors")}: tensor '{p.Name}' is missing (config.json: {model.Config.Architecture}).");
            model.CheckShape(p.Name!, reader.Info(name).Shape, reader.Path);
            if (heldAsBf16 is null || p.Rank != 2 || !heldAsBf16(p.Name!)) reader.ReadFloats(name, p.Span);
            else
            {
                p.RequiresGrad = false;
                if (conv1d.Contains(p))
                {
                    var values = scratch.AsSpan(0, p.Size);
                    reader.ReadFloats(name, values);
                    p.StoreAsBf16Only(values, transposed: true);
                }
                else
                {
                    var values = GC.AllocateUninitializedArray<ushort>(p.Size, pinned: true);
                    reader.ReadBf16(name, values);
                    p.StoreAsBf16Only(values, transposed: false);
                }
            }
            used.Add(name);
        }
        foreach (var (name, reader) in files)
        {
            if (used.Contains(name) || IsIgnorable(name, model.Config)) continue;
            throw new InvalidDataException($"{reader.Path}: tensor '{name}' is not a parameter of {model.Config.Architecture} as config.json describes it.");
        }
        return model;
    }

    // Non-persistent buffers older transformers saved, and a head a tied or classification model does not use.
    private static bool IsIgnorable(string name, ModelConfig config) =>
        name.EndsWith(".attn.bias", StringComparison.Ordinal) && config.Family == ModelFamily.Gpt2
        || name.EndsWith(".attn.masked_bias", StringComparison.Ordinal)
        || name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)
        || name == "lm_head.weight" && (config.TieWordEmbeddings || config.NumLabels is not null);

    /// <summary>Tensor name → the safetensors file holding it (one file, or the shards of an index).</summary>
    private static Dictionary<string, SafeTensorsReader> OpenWeights(string directory)
    {
        var single = Path.Combine(directory, "model.safetensors");
        var index = Path.Combine(directory, "model.safetensors.index.json");
        var map = new Dictionary<string, SafeTensorsReader>();
        if (File.Exists(single))
        {
            var reader = new SafeTensorsReader(single);
            foreach (var t in reader.Tensors) map[t.Name] = reader;
            return map;
        }
        if (!File.Exists(index)) throw new FileNotFoundException($"{directory}: neither model.safetensors nor model.safetensors.index.json exists.", single);
        var weightMap = (JsonText.Parse(File.ReadAllBytes(index), index) as JsonObject)?["weight_map"] as JsonObject
            ?? throw new InvalidDataException($"{index}: field 'weight_map' is missing.");
        var shards = new Dictionary<string, SafeTensorsReader>();
        foreach (var (name, fileNode) in weightMap)
        {
            string file = fileNode is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw new InvalidDataException($"{index}: field 'weight_map.{name}' is not a file name.");
            if (!shards.TryGetValue(file, out var reader))
            {
                // A shard is a file of the checkpoint's own directory, never a path out of it.
                if (Path.GetFileName(file) != file) throw new InvalidDataException($"{index}: shard '{file}' is not a file name in the checkpoint directory.");
                var path = Path.Combine(directory, file);
                if (!File.Exists(path)) throw new FileNotFoundException($"{index}: shard '{file}' listed for tensor '{name}' does not exist.", path);
                shards[file] = reader = new SafeTensorsReader(path);
            }
            if (!reader.Contains(name)) throw new InvalidDataException($"{index}: tensor '{name}' is listed in shard '{file}', which does not contain it.");
            map[name] = reader;
        }
        return map;
    }
}
