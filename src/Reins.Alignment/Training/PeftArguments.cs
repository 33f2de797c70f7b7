using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Models.Peft;
using Reins.Models.Transformers;

namespace Reins.Alignment.Training;

/// <summary>
/// LoRA fine-tuning, with TRL's ModelConfig flags (--use-peft --lora-r --lora-alpha --lora-dropout
/// --lora-target-modules --lora-modules-to-save --use-rslora) and their defaults: every trainer then trains adapters on
/// its frozen model and saves them as PEFT does.
/// </summary>
public sealed record PeftArguments : ISettings
{
    private static readonly LoraConfig Defaults = new();

    /// <summary>Train LoRA adapters instead of every weight.</summary>
    [JsonPropertyName("use_peft"), Description("Train LoRA adapters (PEFT) on the frozen model instead of every weight; the run saves adapter_config.json and adapter_model.safetensors, and the reference of a method that needs one is the model with its adapters off (no second copy).")]
    public bool UsePeft { get; init; }

    /// <summary>Rank of each adapter.</summary>
    [JsonPropertyName("lora_r"), Description("LoRA rank r.")]
    public int LoraR { get; init; } = Defaults.R;

    /// <summary>The update is scaled by alpha / r.</summary>
    [JsonPropertyName("lora_alpha"), Description("LoRA alpha: the adapters' update is scaled by alpha / r.")]
    public float LoraAlpha { get; init; } = Defaults.Alpha;

    /// <summary>Dropout on each adapter's input while training.</summary>
    [JsonPropertyName("lora_dropout"), Description("Dropout on each adapter's input in training forward passes (masks seeded by seed, step and micro-batch).")]
    public float LoraDropout { get; init; } = Defaults.Dropout;

    /// <summary>Layers to adapt (null = PEFT's default for the family).</summary>
    [JsonPropertyName("lora_target_modules"), Description("Layers to adapt, comma-separated (a name matches every layer whose path ends with it) or all-linear; default PEFT's for the family: c_attn for GPT-2, q_proj,v_proj for the Llama family.")]
    public string[]? LoraTargetModules { get; init; }

    /// <summary>Modules trained in full beside the adapters (a reward model's or critic's score head always is).</summary>
    [JsonPropertyName("lora_modules_to_save"), Description("Modules trained in full and saved with the adapters, comma-separated (a name matches every module whose path ends with it); a reward model's or critic's score head always is.")]
    public string[]? LoraModulesToSave { get; init; }

    /// <summary>rsLoRA scaling, alpha / √r.</summary>
    [JsonPropertyName("use_rslora"), Description("Scale the update by alpha / sqrt(r) (rsLoRA) instead of alpha / r.")]
    public bool UseRslora { get; init; }

    /// <summary>Checks the LoRA settings, naming the key.</summary>
    public void Validate() => Config.Validate();

    /// <summary>The adapters' settings (the model's own checkpoint is their base).</summary>
    public LoraConfig Config => new()
    {
        R = LoraR, Alpha = LoraAlpha, Dropout = LoraDropout, TargetModules = LoraTargetModules, ModulesToSave = LoraModulesToSave, UseRslora = UseRslora,
    };

    /// <summary>
    /// Adds adapters to <paramref name="model"/> when use_peft is set and it has none yet (a reference sharing its base
    /// may have needed them first); the adapters' A's are drawn from <paramref name="seed"/>.
    /// </summary>
    public void Apply(CausalLanguageModel model, ulong seed)
    {
        if (UsePeft && model.Lora is null) model.AddLora(Config, seed);
    }
}
