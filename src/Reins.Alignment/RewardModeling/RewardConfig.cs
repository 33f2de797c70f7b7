using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;
using Reins.Rewards.PreferenceModels;

namespace Reins.Alignment.RewardModeling;

/// <summary>Settings of reward-model training, with TRL's RewardConfig names where TRL has the setting.</summary>
public sealed record RewardConfig : IRewardModelConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <summary>Longest prompt+response; as TRL, longer records are dropped (and counted), never truncated.</summary>
    [JsonPropertyName("max_length"), Description("Tokens per prompt+response; longer pairs or records are dropped and counted, as TRL does (capped at the model's n_positions).")]
    public int MaxLength { get; init; } = 512;

    /// <summary>Coefficient c of TRL's reward-centring term c·mean((r_c + r_r)²) (Eisenstein et al. 2023).</summary>
    [JsonPropertyName("center_rewards_coefficient"), Description("Weight of the auxiliary loss mean((r_chosen + r_rejected)^2) that keeps rewards centred on 0 (0 = off).")]
    public float CenterRewardsCoefficient { get; init; }

    /// <summary>Assumed rate ε of flipped preference labels.</summary>
    [JsonPropertyName("label_smoothing"), Description("Assumed label-flip rate eps: loss -(1-eps) log s(d) - eps log s(-d).")]
    public float LabelSmoothing { get; init; }

    /// <summary>Training sequences whose scores define the normalisation statistics saved with the model.</summary>
    [JsonPropertyName("reward_normalization_samples"), Description("Training sequences (chosen and rejected alike) sampled to estimate the reward mean and std saved in reward_normalization.json.")]
    public int RewardNormalizationSamples { get; init; } = 4096;

    /// <summary>Dimension 2k of a general preference model's embedding (--objective gpm).</summary>
    [JsonPropertyName("value_head_dim"), Description("--objective gpm: dimension 2k of the preference embedding (k skew-symmetric 2x2 blocks; even).")]
    public int ValueHeadDim { get; init; } = 2;

    /// <summary>Temperature τ of a general preference model's P = σ(s/τ).</summary>
    [JsonPropertyName("tau"), Description("--objective gpm: temperature tau of P(y1 > y2) = sigmoid(<R v1, v2> / tau).")]
    public float Tau { get; init; } = 0.1f;

    /// <summary>Prompt-dependent eigenvalues of a general preference model's operator.</summary>
    [JsonPropertyName("add_prompt_head"), Description("--objective gpm: prompt-dependent eigenvalues, k * softmax of a head read at the prompt's last token (needs value_head_dim >= 4).")]
    public bool AddPromptHead { get; init; }

    /// <summary>Whether a general preference model centres its embeddings before normalising them.</summary>
    [JsonPropertyName("center_embeddings"), Description("--objective gpm: subtract the mean embedding (the batch's in training, the training set's at inference) before normalising; without it a balanced cycle can collapse every response onto one vector.")]
    public bool CenterEmbeddings { get; init; } = true;

    /// <summary>K, the reward models of a mixture (--objective mixture).</summary>
    [JsonPropertyName("mixture_components"), Description("--objective mixture: K, the reward heads of the EM mixture, one per annotator group (MaxMin-RLHF).")]
    public int MixtureComponents { get; init; } = 2;

    /// <summary>Soft instead of hard assignment of annotators to components.</summary>
    [JsonPropertyName("mixture_soft_assignment"), Description("--objective mixture: weight each annotator's pairs by its posterior over the components instead of assigning it to the most likely one.")]
    public bool MixtureSoftAssignment { get; init; }

    /// <summary>Optimiser steps between E-steps (0 = one epoch).</summary>
    [JsonPropertyName("mixture_em_interval"), Description("--objective mixture: optimiser steps between E-steps, which reassign annotators to the component that explains their labels best (0 = once an epoch).")]
    public int MixtureEmInterval { get; init; }

    /// <summary>d, the dimension of a user-conditioned reward's feature and user latent (--objective user).</summary>
    [JsonPropertyName("user_latent_dim"), Description("--objective user: dimension d of the response features and of the user latent inferred from a user's labelled pairs.")]
    public int UserLatentDim { get; init; } = 8;

    /// <summary>Labelled pairs of the same user that condition each training pair's reward.</summary>
    [JsonPropertyName("user_context_pairs"), Description("--objective user: the user's other labelled pairs each training pair's reward is conditioned on (the few labels a new user gives).")]
    public int UserContextPairs { get; init; } = 4;

    /// <summary>The general preference model these settings describe.</summary>
    public GeneralPreferenceSettings GeneralPreference => new() { ValueHeadDim = ValueHeadDim, Tau = Tau, PromptHead = AddPromptHead, CenterEmbeddings = CenterEmbeddings };

    /// <summary>Checks every reward-model setting.</summary>
    public void Validate()
    {
        Training.Validate();
        if (MaxLength < 2) throw new ArgumentException("max_length: must be at least 2.");
        if (CenterRewardsCoefficient < 0) throw new ArgumentException("center_rewards_coefficient: must not be negative.");
        if (LabelSmoothing is < 0 or >= 0.5f) throw new ArgumentException("label_smoothing: must be in [0, 0.5).");
        if (RewardNormalizationSamples < 1) throw new ArgumentException("reward_normalization_samples: must be positive.");
        GeneralPreference.Validate();
        if (MixtureComponents < 1) throw new ArgumentException("mixture_components: must be at least 1.");
        if (MixtureEmInterval < 0) throw new ArgumentException("mixture_em_interval: must not be negative.");
        if (UserLatentDim < 1) throw new ArgumentException("user_latent_dim: must be at least 1.");
        if (UserContextPairs < 1) throw new ArgumentException("user_context_pairs: must be at least 1.");
    }
}
