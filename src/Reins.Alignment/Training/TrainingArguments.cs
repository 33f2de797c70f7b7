using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Feedback.Sampling;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;

namespace Reins.Alignment.Training;

/// <summary>A trainer's config: its sections and settings, with the training arguments every trainer has.</summary>
public interface ITrainerConfig : ISettings
{
    /// <summary>The run, the optimiser and the batch layout.</summary>
    TrainingArguments Training { get; }
}

/// <summary>Checks of setting values.</summary>
public static class Settings
{
    /// <summary>Throws "key: why." unless <paramref name="ok"/>.</summary>
    public static void Require(bool ok, string key, string why)
    {
        if (!ok) throw new ArgumentException($"{key}: {why}.");
    }
}

/// <summary>
/// The section every trainer's config has: the run, the optimiser and the batch layout, named as TRL's (transformers')
/// TrainingArguments so a JSON config written for TRL reads the same here. Defaults suit the small models trained on
/// one CPU, and are stated in `--help`.
/// </summary>
public sealed record TrainingArguments : ISettings
{
    /// <summary>Run directory: metrics.jsonl, checkpoint-N/, config.json and the final model.</summary>
    [JsonPropertyName("output_dir"), Description("Run directory (metrics.jsonl, checkpoint-N/, config.json, final model).")]
    public string OutputDir { get; init; } = "runs/run";

    /// <summary>Start a fresh run in an output_dir that holds an earlier run, removing its metrics and checkpoints.</summary>
    [JsonPropertyName("overwrite_output_dir"), Description("Start a fresh run in an output_dir holding an earlier one (its metrics.jsonl and checkpoints are removed); without it, such a run is refused.")]
    public bool OverwriteOutputDir { get; init; }

    /// <summary>Seed of initialisation, shuffling, dropout and sampling.</summary>
    [JsonPropertyName("seed"), Description("Random seed; same seed and settings give the same single-thread result.")]
    public ulong Seed { get; init; } = 42;

    /// <summary>Optimiser steps; when positive it overrides num_train_epochs.</summary>
    [JsonPropertyName("max_steps"), Description("Optimiser steps (overrides num_train_epochs when > 0).")]
    public int MaxSteps { get; init; } = -1;

    /// <summary>Passes over the training set.</summary>
    [JsonPropertyName("num_train_epochs"), Description("Passes over the training set.")]
    public double NumTrainEpochs { get; init; } = 1;

    /// <summary>Peak learning rate.</summary>
    [JsonPropertyName("learning_rate"), Description("Peak learning rate.")]
    public float LearningRate { get; init; } = 1e-4f;

    /// <summary>constant, linear or cosine.</summary>
    [JsonPropertyName("lr_scheduler_type"), Description("Learning-rate schedule after warm-up: constant, linear or cosine.")]
    public string LrSchedulerType { get; init; } = "linear";

    /// <summary>Fraction of steps with linear warm-up.</summary>
    [JsonPropertyName("warmup_ratio"), Description("Fraction of the steps spent in linear warm-up.")]
    public double WarmupRatio { get; init; }

    /// <summary>The optimiser: adamw_torch (AdamW as torch.optim.AdamW) or sgd (torch.optim.SGD, no momentum).</summary>
    [JsonPropertyName("optim"), Description("Optimiser: adamw_torch (AdamW) or sgd (plain SGD, weight decay as L2).")]
    public string Optim { get; init; } = "adamw_torch";

    /// <summary>Decoupled weight decay of AdamW.</summary>
    [JsonPropertyName("weight_decay"), Description("AdamW's decoupled weight decay.")]
    public float WeightDecay { get; init; }

    /// <summary>AdamW β₁.</summary>
    [JsonPropertyName("adam_beta1"), Description("AdamW beta1.")]
    public float AdamBeta1 { get; init; } = 0.9f;

    /// <summary>AdamW β₂.</summary>
    [JsonPropertyName("adam_beta2"), Description("AdamW beta2.")]
    public float AdamBeta2 { get; init; } = 0.999f;

    /// <summary>AdamW ε.</summary>
    [JsonPropertyName("adam_epsilon"), Description("AdamW epsilon (added to sqrt(v) after bias correction, as PyTorch).")]
    public float AdamEpsilon { get; init; } = 1e-8f;

    /// <summary>Global gradient-norm clip (0 = off).</summary>
    [JsonPropertyName("max_grad_norm"), Description("Clip the global gradient norm to this (0 = off).")]
    public float MaxGradNorm { get; init; } = 1f;

    /// <summary>Skip (rather than stop at) an optimiser step whose loss or gradient norm is NaN or infinite.</summary>
    [JsonPropertyName("skip_nonfinite_steps"), Description("Skip an optimiser step whose loss or gradient norm is NaN or infinite (logged as nonfinite_skipped) instead of stopping the run.")]
    public bool SkipNonfiniteSteps { get; init; }

    /// <summary>Recompute each transformer block's activations in the backward pass instead of keeping them.</summary>
    [JsonPropertyName("gradient_checkpointing"), Description("Recompute each transformer block's activations in the backward pass instead of keeping them: less memory, one more forward pass, the same gradients.")]
    public bool GradientCheckpointing { get; init; }

    /// <summary>Recompute attention probabilities in the backward pass instead of keeping them.</summary>
    [JsonPropertyName("recompute_attention"), Description("Recompute each block of attention probabilities in the backward pass from q and k (FlashAttention's trade) instead of keeping every layer's [batch, heads, T, T] probabilities: the same gradients bit for bit, less memory at long contexts, one more Q·K product per block.")]
    public bool RecomputeAttention { get; init; }

    /// <summary>bfloat16 mixed precision: activations kept for the backward pass stored as bfloat16, frozen weights held as bfloat16 only.</summary>
    [JsonPropertyName("bf16"), Description("bfloat16 mixed precision (TRL's bf16): the activations each transformer block keeps for the backward pass are stored as bfloat16, halving their memory, and frozen weights — the reference, the reward model, a LoRA base — are held as bfloat16 only (half their memory; the input gradients flow through them). The forward pass, every sum, norm, softmax and loss, the gradients, the float32 master weights of what trains and the optimiser state stay float32, so the backward pass reads rounded activations. gradient_checkpointing keeps no activations to store.")]
    public bool Bf16 { get; init; }

    /// <summary>The dtype weights are held and saved in: float32, bfloat16, or auto (the loaded checkpoint's).</summary>
    [JsonPropertyName("torch_dtype"), Description("The dtype the model is held and saved in (TRL's torch_dtype): float32; bfloat16 — frozen weights (reference, reward model, LoRA base) held as bfloat16 only and the final model (or adapter) written as bfloat16 safetensors with torch_dtype set, as save_pretrained writes a bf16 model, while what trains keeps float32 master weights and checkpoint-N stays float32 so a resume is exact; or auto, the dtype the loaded checkpoint's config.json declares.")]
    public string TorchDtype { get; init; } = "float32";

    /// <summary>Whether frozen weights are held as bfloat16 only: under <see cref="Bf16"/> or <see cref="TorchDtype"/> bfloat16.</summary>
    public bool FrozenAsBf16 => Bf16 || TorchDtype == "bfloat16";

    /// <summary>
    /// The weights of a model this run trains that loading may read straight into bfloat16 (HfCheckpoint.Load): under
    /// <see cref="FrozenAsBf16"/> with LoRA, all but the modules_to_save — the base TrainableModel would hold as bf16 anyway,
    /// never in float32 —, else none (null).
    /// </summary>
    public Func<string, bool>? TrainedModelHeldAsBf16 => FrozenAsBf16 && Peft.UsePeft ? name => !Models.Peft.LoraConfig.InModules(name, Peft.Config.ModulesToSave ?? []) : null;

    /// <summary>The weights of a model this run only reads (a reference, a reward model) that loading may read straight into bfloat16: all under <see cref="FrozenAsBf16"/>, else none (null).</summary>
    public Func<string, bool>? FrozenModelHeldAsBf16 => FrozenAsBf16 ? _ => true : null;

    /// <summary>The dtype the final model of <paramref name="model"/>'s run is written in (<see cref="TorchDtype"/>, auto resolved).</summary>
    public SafeTensorsDType SaveDtype(CausalLanguageModel model) => TorchDtype switch
    {
        "bfloat16" => SafeTensorsDType.BF16,
        "auto" when model.SourceDirectory is { } source && HfCheckpoint.DeclaredDtype(source) == "bfloat16" => SafeTensorsDType.BF16,
        _ => SafeTensorsDType.F32,
    };

    /// <summary>
    /// Freezes <paramref name="model"/>, a reference or another model the run does not train; with <see cref="FrozenAsBf16"/>
    /// its weight matrices are then kept as bfloat16 only (<see cref="CausalLanguageModel.StoreFrozenWeightsAsBf16"/>).
    /// </summary>
    public void Freeze(CausalLanguageModel? model)
    {
        if (FrozenAsBf16) model?.FreezeAsBf16();
        else model?.SetTrainable(false);
    }

    /// <summary>LoRA adapters instead of full fine-tuning.</summary>
    public PeftArguments Peft { get; init; } = new();

    /// <summary>Examples per micro-batch.</summary>
    [JsonPropertyName("per_device_train_batch_size"), Description("Examples per micro-batch.")]
    public int PerDeviceTrainBatchSize { get; init; } = 8;

    /// <summary>Examples per evaluation batch.</summary>
    [JsonPropertyName("per_device_eval_batch_size"), Description("Examples per evaluation batch.")]
    public int PerDeviceEvalBatchSize { get; init; } = 8;

    /// <summary>Micro-batches whose gradients are summed before each optimiser step.</summary>
    [JsonPropertyName("gradient_accumulation_steps"), Description("Micro-batches accumulated per optimiser step.")]
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Log every N steps.</summary>
    [JsonPropertyName("logging_steps"), Description("Write a metrics.jsonl row every N steps.")]
    public int LoggingSteps { get; init; } = 10;

    /// <summary>Evaluate every N steps (0 = only at the end).</summary>
    [JsonPropertyName("eval_steps"), Description("Evaluate every N steps when an eval set is given (0 = only at the end).")]
    public int EvalSteps { get; init; }

    /// <summary>Save a checkpoint every N steps (0 = only the final model).</summary>
    [JsonPropertyName("save_steps"), Description("Save checkpoint-N every N steps (0 = only the final model).")]
    public int SaveSteps { get; init; }

    /// <summary>Keep at most this many checkpoints (0 = all).</summary>
    [JsonPropertyName("save_total_limit"), Description("Keep at most this many checkpoint-N directories (0 = all).")]
    public int SaveTotalLimit { get; init; }

    /// <summary>Share of the training set held out, by a seeded split, to evaluate on when no evaluation set is given.</summary>
    [JsonPropertyName("eval_fraction"), Description("Hold out this share of the training set (seeded split) for evaluation when no eval set is given (0 = none).")]
    public double EvalFraction { get; init; }

    /// <summary>
    /// The training and evaluation sets: <paramref name="eval"/> when one is given, else eval_fraction of
    /// <paramref name="train"/> held out by a split seeded with seed (rounded up, as Hugging Face's train_test_split),
    /// else no evaluation set.
    /// </summary>
    public (IReadOnlyList<T> Train, IReadOnlyList<T>? Eval) EvaluationSplit<T>(IReadOnlyList<T> train, IReadOnlyList<T>? eval)
    {
        Settings.Require(EvalFraction is >= 0 and < 1, "eval_fraction", "must be in [0, 1)");
        if (EvalFraction == 0) return (train, eval);
        if (eval is not null) throw new ArgumentException("eval_fraction: an evaluation set is given already; hold out part of the training set or give one, not both.");
        var split = DatasetSplit<T>.ByFraction(train, EvalFraction, Seed);
        return (split.Train, split.Test);
    }

    /// <summary>Validates the shared fields, naming the offending key.</summary>
    public void Validate()
    {
        Settings.Require(LearningRate > 0 && float.IsFinite(LearningRate), "learning_rate", "must be a positive finite number");
        // torch.optim.AdamW's ranges, except ε = 0, which divides by zero wherever a gradient is zero.
        Settings.Require(AdamBeta1 is >= 0 and < 1, "adam_beta1", "must be in [0, 1)");
        Settings.Require(AdamBeta2 is >= 0 and < 1, "adam_beta2", "must be in [0, 1)");
        Settings.Require(AdamEpsilon > 0 && float.IsFinite(AdamEpsilon), "adam_epsilon", "must be a positive finite number");
        Settings.Require(WeightDecay >= 0 && float.IsFinite(WeightDecay), "weight_decay", "must be a non-negative finite number");
        Settings.Require(PerDeviceTrainBatchSize > 0, "per_device_train_batch_size", "must be positive");
        Settings.Require(PerDeviceEvalBatchSize > 0, "per_device_eval_batch_size", "must be positive");
        Settings.Require(GradientAccumulationSteps > 0, "gradient_accumulation_steps", "must be positive");
        Settings.Require(MaxSteps > 0 || NumTrainEpochs > 0, "max_steps", "or num_train_epochs must be positive");
        Settings.Require(WarmupRatio is >= 0 and < 1, "warmup_ratio", "must be in [0, 1)");
        Settings.Require(LoggingSteps > 0, "logging_steps", "must be positive");
        Settings.Require(EvalSteps >= 0 && SaveSteps >= 0 && SaveTotalLimit >= 0, "eval_steps/save_steps/save_total_limit", "must not be negative");
        Settings.Require(MaxGradNorm >= 0, "max_grad_norm", "must not be negative");
        Settings.Require(EvalFraction is >= 0 and < 1, "eval_fraction", "must be in [0, 1)");
        Settings.Require(Optim is "adamw_torch" or "adamw" or "sgd", "optim", $"'{Optim}' is not one of adamw_torch, sgd");
        Settings.Require(TorchDtype is "float32" or "bfloat16" or "auto", "torch_dtype", $"'{TorchDtype}' is not one of float32, bfloat16, auto");
        Peft.Validate();
        Settings.Require(!(Peft.UsePeft && Peft.LoraDropout > 0 && GradientCheckpointing), "lora_dropout",
            "must be 0 with gradient_checkpointing (the recomputed forward pass would draw other dropout masks than the first)");
        Tensors.Optim.LearningRateSchedule.ParseKind(LrSchedulerType);
    }
}
