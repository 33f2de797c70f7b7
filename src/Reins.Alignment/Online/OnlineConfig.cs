using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;

namespace Reins.Alignment.Online;

/// <summary>
/// Settings every online trainer shares, with TRL's names. A step samples N = per_device_train_batch_size ×
/// gradient_accumulation_steps × num_mini_batches completions (G per prompt), then makes the algorithm's passes over
/// them in num_mini_batches shuffled mini-batches, one optimiser step each, each accumulated over
/// gradient_accumulation_steps micro-batches of per_device_train_batch_size completions (TRL's PPO batch layout).
/// </summary>
public abstract record OnlineConfig : TrainingArguments
{
    /// <summary>Prompt tokens kept (from the end).</summary>
    [JsonPropertyName("max_prompt_length"), Description("Prompt tokens kept (from the end).")]
    public int MaxPromptLength { get; init; } = 128;

    /// <summary>New tokens per completion at most (TRL PPO's response_length).</summary>
    [JsonPropertyName("max_completion_length"), Description("New tokens per completion at most.")]
    public int MaxCompletionLength { get; init; } = 64;

    /// <summary>Sampling temperature; the policy-gradient losses take their log-probs at the same temperature (online DPO at 1).</summary>
    [JsonPropertyName("temperature"), Description("Sampling temperature (> 0); policy-gradient losses take log-probs at the same temperature (online DPO at 1).")]
    public float Temperature { get; init; } = 1f;

    /// <summary>Top-k sampling filter (0 = off).</summary>
    [JsonPropertyName("top_k"), Description("Sample from the k most likely tokens only (0 = off).")]
    public int TopK { get; init; }

    /// <summary>Nucleus sampling filter (1 = off).</summary>
    [JsonPropertyName("top_p"), Description("Nucleus sampling mass (1 = off).")]
    public float TopP { get; init; } = 1f;

    /// <summary>Mini-batches (optimiser steps) per pass over a rollout.</summary>
    [JsonPropertyName("num_mini_batches"), Description("Mini-batches (optimiser steps) per pass over each rollout.")]
    public int NumMiniBatches { get; init; } = 1;

    /// <summary>Subtracted from the score of a completion that hit max_completion_length without EOS (the "EOS trick"; null = off).</summary>
    [JsonPropertyName("missing_eos_penalty"), Description("Subtract this from the score of completions that end without EOS (null = off).")]
    public float? MissingEosPenalty { get; init; }

    /// <summary>Weight of the entropy bonus: the loss subtracts ent_coef × the aggregated token entropy (CleanRL's ent_coef).</summary>
    [JsonPropertyName("ent_coef"), Description("Entropy bonus weight (0 = off).")]
    public float EntCoef { get; init; }

    /// <summary>Adapt the KL coefficient towards <see cref="Target"/> (Ziegler et al. 2019) instead of keeping it fixed.</summary>
    [JsonPropertyName("adap_kl_ctrl"), Description("Adapt the KL coefficient to hold the per-sequence KL near 'target' (Ziegler et al.).")]
    public bool AdapKlCtrl { get; init; }

    /// <summary>The per-sequence KL the adaptive controller holds.</summary>
    [JsonPropertyName("target"), Description("Per-sequence KL (nats) the adaptive controller aims for.")]
    public float Target { get; init; } = 6f;

    /// <summary>The adaptive controller's horizon in samples.</summary>
    [JsonPropertyName("horizon"), Description("Samples over which the adaptive controller moves the coefficient by about e^0.2.")]
    public float Horizon { get; init; } = 10000f;

    /// <summary>Completions per prompt (G).</summary>
    public abstract int SamplesPerPrompt { get; }
    /// <summary>Passes over each rollout (PPO epochs, GRPO's μ).</summary>
    public abstract int UpdateEpochs { get; }
    /// <summary>ε_low of the clipped ratio.</summary>
    public abstract float ClipLow { get; }
    /// <summary>ε_high of the clipped ratio.</summary>
    public abstract float ClipHigh { get; }
    /// <summary>The initial KL coefficient β.</summary>
    public abstract float KlCoefficient { get; }
    /// <summary>The estimator of the KL term added to the loss, or null when the KL is not in the loss.</summary>
    public abstract KlEstimator? KlLoss { get; }
    /// <summary>How per-token losses are aggregated.</summary>
    public abstract LossAggregation Aggregation { get; }

    /// <summary>Completions sampled per step.</summary>
    public int CompletionsPerStep => PerDeviceTrainBatchSize * GradientAccumulationSteps * NumMiniBatches;

    /// <summary>Prompts per step.</summary>
    public int PromptsPerStep => CompletionsPerStep / SamplesPerPrompt;

    /// <summary>Checks the shared online settings too.</summary>
    public override void Validate()
    {
        base.Validate();
        static void Require(bool ok, string key, string why) { if (!ok) throw new ArgumentException($"{key}: {why}."); }
        Require(MaxPromptLength >= 1 && MaxCompletionLength >= 1, "max_prompt_length/max_completion_length", "must be positive");
        Require(Temperature > 0 && float.IsFinite(Temperature), "temperature", "must be positive (online training samples)");
        Require(TopK >= 0, "top_k", "must be ≥ 0");
        Require(TopP is > 0 and <= 1, "top_p", "must be in (0, 1]");
        Require(NumMiniBatches >= 1, "num_mini_batches", "must be positive");
        Require(EntCoef >= 0, "ent_coef", "must not be negative");
        Require(Target > 0 && Horizon > 0, "target/horizon", "must be positive");
        Require(SamplesPerPrompt >= 1 && CompletionsPerStep % SamplesPerPrompt == 0, "num_generations",
            $"must divide the {CompletionsPerStep} completions per step (per_device_train_batch_size × gradient_accumulation_steps × num_mini_batches)");
        Require(UpdateEpochs >= 1, "num_ppo_epochs/num_iterations", "must be positive");
        Require(ClipLow is > 0 and < 1 && ClipHigh > 0, "cliprange/epsilon", "must be in (0, 1)");
        Require(KlCoefficient >= 0, "kl_coef/beta", "must not be negative");
    }
}
