using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Objectives;
using Reins.Alignment.Training;
using Reins.Models.Generation;

namespace Reins.Alignment.Online;

/// <summary>How completions are sampled: online methods each step, iterative DPO each iteration, best-of-n once.</summary>
public sealed record SamplingSettings : ISettings
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

    /// <summary>Subtracted from the score of a completion that hit max_completion_length without EOS (the "EOS trick"; null = off).</summary>
    [JsonPropertyName("missing_eos_penalty"), Description("Subtract this from the score of completions that end without EOS (null = off).")]
    public float? MissingEosPenalty { get; init; }

    /// <summary>The generator's options for <paramref name="samplesPerPrompt"/> completions of each prompt.</summary>
    public SamplingOptions Options(int samplesPerPrompt, ulong seed) => new()
    {
        MaxNewTokens = MaxCompletionLength, Temperature = Temperature, TopK = TopK, TopP = TopP, NumReturnSequences = samplesPerPrompt, Seed = seed,
    };

    /// <inheritdoc/>
    public void Validate()
    {
        Settings.Require(MaxPromptLength >= 1 && MaxCompletionLength >= 1, "max_prompt_length/max_completion_length", "must be positive");
        Settings.Require(Temperature > 0 && float.IsFinite(Temperature), "temperature", "must be positive (completions are sampled)");
        Settings.Require(TopK >= 0, "top_k", "must be ≥ 0");
        Settings.Require(TopP is > 0 and <= 1, "top_p", "must be in (0, 1]");
    }
}

/// <summary>
/// The section every online method's config has: how completions are sampled, and how a step's rollout is cut for the
/// update. A step samples N = per_device_train_batch_size × gradient_accumulation_steps × num_mini_batches completions
/// (G per prompt), then makes the method's passes over them in num_mini_batches shuffled mini-batches, one optimiser
/// step each, each accumulated over gradient_accumulation_steps micro-batches of per_device_train_batch_size
/// completions (TRL's PPO batch layout).
/// </summary>
public sealed record OnlineArguments : ISettings
{
    /// <summary>How completions are sampled.</summary>
    public SamplingSettings Sampling { get; init; } = new();

    /// <summary>float32, or bfloat16: rollouts sampled from bfloat16 copies of the policy's weights, refreshed each step.</summary>
    [JsonPropertyName("rollout_dtype"), Description("Weights the rollouts are sampled with: float32, bfloat16 (copies of the policy's weights made each step; decoding reads half the bytes), or int8 (weight-only, per-output absmax scales; a quarter of the bytes). With bfloat16 or int8 the sampled tokens' log-probs are taken again in float32 for the update, and their drift is logged as rollout/logprob_drift (mean |Δ log p|) and rollout/logprob_drift_max.")]
    public string RolloutDtype { get; init; } = "float32";

    /// <summary>Mini-batches (optimiser steps) per pass over a rollout.</summary>
    [JsonPropertyName("num_mini_batches"), Description("Mini-batches (optimiser steps) per pass over each rollout.")]
    public int NumMiniBatches { get; init; } = 1;

    /// <summary>Completions sampled per step under <paramref name="training"/>'s batch layout.</summary>
    public int CompletionsPerStep(TrainingArguments training) => training.PerDeviceTrainBatchSize * training.GradientAccumulationSteps * NumMiniBatches;

    /// <inheritdoc/>
    public void Validate()
    {
        Sampling.Validate();
        Settings.Require(NumMiniBatches >= 1, "num_mini_batches", "must be positive");
        Settings.Require(RolloutDtype is "float32" or "bfloat16" or "int8", "rollout_dtype", $"'{RolloutDtype}' is not one of float32, bfloat16, int8");
    }

    /// <summary>Checks that groups of <paramref name="samplesPerPrompt"/> completions fill a step exactly.</summary>
    public void ValidateGroups(TrainingArguments training, int samplesPerPrompt)
    {
        int completions = CompletionsPerStep(training);
        Settings.Require(samplesPerPrompt >= 1 && completions % samplesPerPrompt == 0, "num_generations",
            $"must divide the {completions} completions per step (per_device_train_batch_size × gradient_accumulation_steps × num_mini_batches)");
    }
}

/// <summary>A trainer config with the online section.</summary>
public interface IOnlineConfig : ITrainerConfig
{
    /// <summary>Sampling and the rollout's mini-batches.</summary>
    OnlineArguments Online { get; }
}

/// <summary>What the policy-gradient methods (PPO, GRPO, RLOO, REINFORCE++) share besides their own KL coefficient: an entropy bonus and adaptive KL control.</summary>
public sealed record PolicyGradientSettings : ISettings
{
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

    /// <summary>The controller of a KL coefficient starting at <paramref name="initial"/>.</summary>
    public KlController Controller(float initial) => AdapKlCtrl ? new AdaptiveKlController(initial, Target, Horizon) : new FixedKlController(initial);

    /// <inheritdoc/>
    public void Validate()
    {
        Settings.Require(EntCoef >= 0, "ent_coef", "must not be negative");
        Settings.Require(Target > 0 && Horizon > 0, "target/horizon", "must be positive");
    }
}

/// <summary>The clip range of the ratio, with TRL's GRPO names (PPO keeps its cliprange).</summary>
public sealed record ClipSettings : ISettings
{
    /// <summary>ε (ε_low) of the clipped ratio.</summary>
    [JsonPropertyName("epsilon"), Description("Lower clip range: the ratio is clipped at 1 − epsilon.")]
    public float Epsilon { get; init; } = 0.2f;

    /// <summary>ε_high of the clipped ratio (DAPO's clip-higher; null = epsilon).</summary>
    [JsonPropertyName("epsilon_high"), Description("Upper clip range: the ratio is clipped at 1 + epsilon_high (null = epsilon).")]
    public float? EpsilonHigh { get; init; }

    /// <summary>ε_high as used: <see cref="EpsilonHigh"/>, else ε.</summary>
    public float High => EpsilonHigh ?? Epsilon;

    /// <inheritdoc/>
    public void Validate() => Settings.Require(Epsilon is > 0 and < 1 && High > 0, "epsilon/epsilon_high", "epsilon must be in (0, 1) and epsilon_high positive");
}

/// <summary>
/// The config of a critic-free policy-gradient method (GRPO, RLOO, REINFORCE++): a group of completions per prompt whose
/// rewards baseline each other, the clipped ratio, the entropy bonus and KL control (the KL coefficient each names its own way).
/// </summary>
public interface IGroupPolicyGradientConfig : IOnlineConfig
{
    /// <summary>Completions per prompt and passes over each rollout.</summary>
    GroupSettings Group { get; }
    /// <summary>The clip range of the ratio.</summary>
    ClipSettings Clip { get; }
    /// <summary>The entropy bonus and adaptive KL control.</summary>
    PolicyGradientSettings PolicyGradient { get; }
}

/// <summary>What the critic-free policy-gradient methods derive from their shared sections.</summary>
public static class GroupPolicyGradient
{
    /// <summary>
    /// Checks the method's needs first — at least <paramref name="minimumGenerations"/> completions per prompt (else
    /// <paramref name="why"/>), a KL coefficient <paramref name="beta"/> (named <paramref name="betaKey"/>) not below 0 —
    /// then the shared sections, and that groups of num_generations fill a step.
    /// </summary>
    public static void Validate(this IGroupPolicyGradientConfig config, float beta, string betaKey, int minimumGenerations, string why)
    {
        Settings.Require(config.Group.NumGenerations >= minimumGenerations, "num_generations", why);
        Settings.Require(beta >= 0, betaKey, "must not be negative");
        config.Training.Validate();
        config.Online.Validate();
        config.Online.ValidateGroups(config.Training, config.Group.NumGenerations);
        config.Group.Validate();
        config.Clip.Validate();
        config.PolicyGradient.Validate();
    }

    /// <summary>G completions per prompt, μ passes, and the KL coefficient <paramref name="beta"/>, fixed or adaptive.</summary>
    public static RolloutPlan Plan(this IGroupPolicyGradientConfig config, float beta) =>
        new(config.Group.NumGenerations, config.Group.NumIterations, config.PolicyGradient.Controller(beta));

    /// <summary>The clipped surrogate with the method's KL term and aggregation.</summary>
    public static PolicyLossSettings PolicyLoss(this IGroupPolicyGradientConfig config, KlEstimator? klLoss, LossAggregation aggregation) =>
        new(config.Clip.Epsilon, config.Clip.High, klLoss, config.PolicyGradient.EntCoef, aggregation);
}

/// <summary>The group of completions per prompt, and the passes over each rollout, of GRPO, RLOO, REINFORCE++ and expert iteration.</summary>
public sealed record GroupSettings : ISettings
{
    /// <summary>Completions sampled per prompt.</summary>
    [JsonPropertyName("num_generations"), Description("Completions sampled per prompt (G in GRPO, k in RLOO, n in expert iteration).")]
    public int NumGenerations { get; init; } = 4;

    /// <summary>Passes over each rollout (GRPO's μ).</summary>
    [JsonPropertyName("num_iterations"), Description("Passes over each rollout (mu).")]
    public int NumIterations { get; init; } = 1;

    /// <inheritdoc/>
    public void Validate() => Settings.Require(NumIterations >= 1, "num_iterations", "must be positive");
}
