using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;

namespace Reins.Models.Peft;

/// <summary>
/// LoRA adapters saved as PEFT saves them, so `PeftModel.from_pretrained(base, dir)` loads them: adapter_config.json
/// (peft_type LORA, task_type, base_model_name_or_path, r, lora_alpha, lora_dropout, target_modules, bias,
/// fan_in_fan_out, modules_to_save, use_rslora) and adapter_model.safetensors with PEFT's keys —
/// base_model.model.&lt;layer&gt;.lora_A.weight [r, in], ….lora_B.weight [out, r], and each saved module's weights
/// under base_model.model.&lt;name&gt;.
/// </summary>
public static class PeftCheckpoint
{
    /// <summary>The adapter's settings file.</summary>
    public const string ConfigFile = "adapter_config.json";
    /// <summary>The adapter's weights.</summary>
    public const string WeightsFile = "adapter_model.safetensors";
    private const string KeyPrefix = "base_model.model.";
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// Whether <paramref name="directory"/> holds a PEFT adapter rather than full weights (a LoRA run's directory also
    /// has a config.json, the base's with the run settings, as transformers ignores beside an adapter).
    /// </summary>
    public static bool IsAdapter(string directory) => File.Exists(Path.Combine(directory, ConfigFile))
        && !File.Exists(Path.Combine(directory, "model.safetensors")) && !File.Exists(Path.Combine(directory, "model.safetensors.index.json"));

    /// <summary>Writes the adapter of <paramref name="model"/> (its LoRA weights and saved modules) into <paramref name="directory"/>.</summary>
    public static void Save(CausalLanguageModel model, string directory, SafeTensorsDType dtype)
    {
        var lora = model.Lora ?? throw new InvalidOperationException($"{model.Config.Architecture} has no LoRA adapters to save.");
        var c = lora.Config;
        bool gpt2 = model.Config.Family == ModelFamily.Gpt2;
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = TaskType(model.Config),
            ["base_model_name_or_path"] = model.SourceDirectory,
            ["r"] = c.R,
            ["lora_alpha"] = c.Alpha,
            ["lora_dropout"] = c.Dropout,
            ["target_modules"] = new JsonArray([.. lora.Layers.Select(l => LoraConfig.LeafName(l.Path)).Distinct().Order(StringComparer.Ordinal).Select(n => (JsonNode)n)]),
            ["bias"] = "none",
            // GPT-2's Conv1D stores weights [in, out]; PEFT sets this for it and merges B·A transposed.
            ["fan_in_fan_out"] = gpt2,
            ["modules_to_save"] = c.ModulesToSave is { Count: > 0 } saved ? new JsonArray([.. saved.Select(n => (JsonNode)n)]) : null,
            ["use_rslora"] = c.UseRslora,
            ["use_dora"] = false,
            ["init_lora_weights"] = true,
            ["inference_mode"] = true,
            ["layers_to_transform"] = null,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
            ["revision"] = null,
        };
        File.WriteAllText(Path.Combine(directory, ConfigFile), config.ToJsonString(Indented));
        SafeTensorsWriter.Write(Path.Combine(directory, WeightsFile), AdapterTensors(model).Select(p => (KeyPrefix + p.Name!, p.Shape, p.Memory)), dtype: dtype);
    }

    // The adapters and the modules saved in full, in registration order.
    private static IEnumerable<Tensors.Tensor> AdapterTensors(CausalLanguageModel model)
    {
        var saved = model.Lora!.Config.ModulesToSave ?? [];
        return model.Parameters.Where(p => p.Name!.Contains(".lora_", StringComparison.Ordinal) || LoraConfig.InModules(p.Name!, saved));
    }

    private static string TaskType(ModelConfig config) => config.NumLabels is null ? "CAUSAL_LM" : config.TokenClassification ? "TOKEN_CLS" : "SEQ_CLS";

    /// <summary>
    /// Copies an adapter's weights into <paramref name="model"/>, which has the same adapters (resuming a LoRA run):
    /// every adapter tensor and saved module must be in the file with its shape.
    /// </summary>
    public static void Restore(CausalLanguageModel model, string directory)
    {
        var path = Path.Combine(directory, WeightsFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{directory}: no {WeightsFile} (the checkpoint holds no adapter, but the model has LoRA adapters).", path);
        var reader = new SafeTensorsReader(path);
        foreach (var p in AdapterTensors(model))
        {
            string key = KeyPrefix + p.Name;
            if (!reader.Contains(key)) throw new InvalidDataException($"{path}: tensor '{key}' is missing.");
            model.Load(p.Name!, reader.ReadFloats(key), reader.Info(key).Shape, path);
        }
    }

    /// <summary>
    /// The base named by adapter_config.json's base_model_name_or_path with the adapter merged into its weights
    /// (W += scaling·B·A, transposed for GPT-2's Conv1D) and its saved modules loaded: a model of the base's kind, or a
    /// classifier of the file's score head for a SEQ_CLS or TOKEN_CLS adapter. <paramref name="loadBase"/> loads a
    /// checkpoint directory (an adapter's base may itself be an adapter); <paramref name="baseDirectory"/> overrides
    /// base_model_name_or_path.
    /// </summary>
    public static CausalLanguageModel LoadMerged(string directory, Func<string, CausalLanguageModel> loadBase, string? baseDirectory = null)
    {
        var configPath = Path.Combine(directory, ConfigFile);
        var json = JsonField.Parse(File.ReadAllBytes(configPath), configPath);
        if (json.Required("peft_type").String() is var peftType && peftType != "LORA")
            throw json.Required("peft_type").Error($"'{peftType}' is not supported; Reins loads LORA adapters.");
        foreach (var pattern in new[] { "rank_pattern", "alpha_pattern" })
            if (json.Optional(pattern) is { } field && field.Members().Any())
                throw field.Error("per-layer ranks or alphas are not supported.");
        if (json.OptionalBool("use_dora", false)) throw json.Required("use_dora").Error("DoRA adapters are not supported.");
        if (json.OptionalString("bias") is { } bias && bias != "none") throw json.Required("bias").Error($"'{bias}' is not supported (only \"none\").");
        string taskType = json.OptionalString("task_type") ?? "CAUSAL_LM";
        if (taskType is not ("CAUSAL_LM" or "SEQ_CLS" or "TOKEN_CLS")) throw json.Required("task_type").Error($"'{taskType}' is not one of CAUSAL_LM, SEQ_CLS, TOKEN_CLS.");
        int r = json.Required("r").Int();
        float alpha = json.Required("lora_alpha").Number();
        if (r < 1) throw json.Required("r").Error($"must be at least 1, got {r}.");
        float scaling = json.OptionalBool("use_rslora", false) ? alpha / MathF.Sqrt(r) : alpha / r;
        var basePath = baseDirectory ?? ResolveBase(json, directory);

        var weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(weightsPath)) throw new FileNotFoundException($"{directory}: {ConfigFile} without {WeightsFile}.", weightsPath);
        var reader = new SafeTensorsReader(weightsPath);
        var tensors = reader.Tensors.ToDictionary(t => t.Name);
        foreach (var name in tensors.Keys)
            if (!name.StartsWith(KeyPrefix, StringComparison.Ordinal)) throw new InvalidDataException($"{weightsPath}: tensor '{name}' does not start with '{KeyPrefix}' (not a PEFT LoRA adapter).");

        var model = loadBase(basePath);
        if (taskType != "CAUSAL_LM") model = AsClassifier(model, taskType == "TOKEN_CLS", tensors, weightsPath);
        var layers = model.Linears.ToDictionary(l => l.Path!);
        var used = new HashSet<string>();
        foreach (var (key, info) in tensors)
        {
            string name = key[KeyPrefix.Length..];
            if (name.EndsWith(".lora_A.weight", StringComparison.Ordinal))
            {
                string path = name[..^".lora_A.weight".Length];
                string bKey = KeyPrefix + path + ".lora_B.weight";
                if (!layers.TryGetValue(path, out var layer)) throw new InvalidDataException($"{weightsPath}: tensor '{key}' adapts '{path}', which is not a linear layer of {model.Config.Architecture}.");
                if (!tensors.TryGetValue(bKey, out var bInfo)) throw new InvalidDataException($"{weightsPath}: tensor '{key}' has no '{bKey}'.");
                if (!info.Shape.SequenceEqual([r, layer.InFeatures]) || !bInfo.Shape.SequenceEqual([layer.OutFeatures, r]))
                    throw new InvalidDataException($"{weightsPath}: '{key}' is {Tensors.Tensor.Format(info.Shape)} and '{bKey}' {Tensors.Tensor.Format(bInfo.Shape)}, but r {r} on '{path}' ({layer.InFeatures} in, {layer.OutFeatures} out) needs [{r}, {layer.InFeatures}] and [{layer.OutFeatures}, {r}].");
                var adapter = new Tensors.Nn.LoraAdapter(Tensors.Tensor.FromArray(reader.ReadFloats(key), info.Shape), Tensors.Tensor.FromArray(reader.ReadFloats(bKey), bInfo.Shape), scaling, 0);
                System.Numerics.Tensors.TensorPrimitives.Add(layer.Weight.Span, adapter.WeightDelta(layer.Layout), layer.Weight.Span);
                used.Add(key);
                used.Add(bKey);
            }
        }
        foreach (var (key, info) in tensors)
        {
            if (used.Contains(key)) continue;
            string name = key[KeyPrefix.Length..];
            if (!model.HasParameter(name)) throw new InvalidDataException($"{weightsPath}: tensor '{key}' is neither a LoRA weight nor a parameter of {model.Config.Architecture}.");
            model.Load(name, reader.ReadFloats(key), info.Shape, weightsPath);
        }
        model.SourceDirectory = Path.GetFullPath(directory);
        return model;
    }

    /// <summary>The directory of the adapter's base checkpoint (base_model_name_or_path).</summary>
    public static string BaseDirectory(string directory)
    {
        var configPath = Path.Combine(directory, ConfigFile);
        return ResolveBase(JsonField.Parse(File.ReadAllBytes(configPath), configPath), directory);
    }

    // An absolute path as written, else relative to the working directory, else to the adapter's own directory.
    private static string ResolveBase(JsonField json, string directory)
    {
        var field = json.Optional("base_model_name_or_path") ?? throw json.Error("base_model_name_or_path is missing or null; Reins needs the base checkpoint's directory to load an adapter.");
        string given = field.String();
        foreach (var candidate in new[] { given, Path.Combine(directory, given) })
            if (Directory.Exists(candidate))
                return Path.GetFullPath(candidate) != Path.GetFullPath(directory) ? candidate : throw field.Error("names the adapter's own directory.");
        throw field.Error($"'{given}' is not a directory here (Reins loads bases from local checkpoint directories, not from the Hub).");
    }

    // A SEQ_CLS or TOKEN_CLS adapter on a language-model base: the base's trunk (shared, not copied) under a head of the
    // file's shape, as AutoModelForSequenceClassification.from_pretrained(base, num_labels=…) makes before PEFT loads.
    private static CausalLanguageModel AsClassifier(CausalLanguageModel model, bool tokens, IReadOnlyDictionary<string, SafeTensorInfo> tensors, string weightsPath)
    {
        string head = KeyPrefix + (model.Config with { TokenClassification = tokens }).ClassifierName + ".weight";
        if (!tensors.TryGetValue(head, out var info)) throw new InvalidDataException($"{weightsPath}: a {(tokens ? "TOKEN_CLS" : "SEQ_CLS")} adapter without '{head}' (its modules_to_save).");
        int labels = info.Shape[0];
        if (model.Config.NumLabels == labels && model.Config.TokenClassification == tokens) return model;
        model.SetTrainable(false);
        var classifier = CausalLanguageModel.Create(model.Config with { NumLabels = labels, TokenClassification = tokens }, 0, model);
        classifier.SetTrainable(true);
        return classifier;
    }
}
