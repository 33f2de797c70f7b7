using Reins.Models.Transformers;

namespace Reins.Models.Peft;

/// <summary>
/// A LoRA adapter's settings, named and defaulted as TRL's ModelConfig flags name PEFT's LoraConfig: rank 16,
/// lora_alpha 32, lora_dropout 0.05, PEFT's default target modules of the model family, and for a classifier
/// (reward model, critic) its score head trained in full (modules_to_save).
/// </summary>
public sealed record LoraConfig
{
    /// <summary>Rank r of each adapter.</summary>
    public int R { get; init; } = 16;
    /// <summary>lora_alpha: the update is scaled by alpha / r (alpha / √r with rsLoRA).</summary>
    public float Alpha { get; init; } = 32;
    /// <summary>Dropout on each adapter's input while training.</summary>
    public float Dropout { get; init; } = 0.05f;
    /// <summary>Layer names to adapt (a name matches a layer whose dotted path ends with it), "all-linear", or null for PEFT's default of the family.</summary>
    public IReadOnlyList<string>? TargetModules { get; init; }
    /// <summary>Modules trained in full and saved with the adapter (a classifier's score head is always among them).</summary>
    public IReadOnlyList<string>? ModulesToSave { get; init; }
    /// <summary>rsLoRA (Kalajdzievski 2023): scale by alpha / √r.</summary>
    public bool UseRslora { get; init; }

    /// <summary>PEFT's shorthand for every linear layer but the output head.</summary>
    public const string AllLinear = "all-linear";

    /// <summary>The factor on B·A.</summary>
    public float Scaling => UseRslora ? Alpha / MathF.Sqrt(R) : Alpha / R;

    /// <summary>PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for the families Reins runs: GPT-2's fused c_attn, the Llama family's q_proj and v_proj.</summary>
    public static IReadOnlyList<string> DefaultTargets(ModelFamily family) => family == ModelFamily.Gpt2 ? ["c_attn"] : ["q_proj", "v_proj"];

    /// <summary>
    /// Whether one of <paramref name="names"/> names the module at dotted <paramref name="path"/>, as PEFT matches
    /// target_modules and modules_to_save: the path is the name or ends with "." + it ("ln_f" names transformer.ln_f).
    /// </summary>
    public static bool Names(string path, IEnumerable<string> names) => names.Any(n => path == n || path.EndsWith("." + n, StringComparison.Ordinal));

    /// <summary>Whether <paramref name="parameter"/> ("transformer.ln_f.weight") belongs to a module of <paramref name="modules"/>.</summary>
    public static bool InModules(string parameter, IEnumerable<string> modules) => Names(parameter[..Math.Max(0, parameter.LastIndexOf('.'))], modules);

    /// <summary>The last part of a dotted module path ("c_attn" of "transformer.h.0.attn.c_attn"), as PEFT lists target_modules.</summary>
    public static string LeafName(string path) => path[(path.LastIndexOf('.') + 1)..];

    /// <summary>Throws "key: why." for a value PEFT would refuse.</summary>
    public LoraConfig Validate()
    {
        if (R < 1) throw new ArgumentException($"lora_r: must be at least 1, got {R}.");
        if (!(Alpha > 0) || !float.IsFinite(Alpha)) throw new ArgumentException($"lora_alpha: must be a positive number, got {Alpha}.");
        if (Dropout is < 0 or >= 1) throw new ArgumentException($"lora_dropout: must be in [0, 1), got {Dropout}.");
        if (TargetModules is { Count: 0 }) throw new ArgumentException("lora_target_modules: names no module; leave it unset for the family's default.");
        return this;
    }
}
