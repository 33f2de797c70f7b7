using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Models.Transformers;

namespace Reins.Alignment.ReinforcePlusPlus;

/// <summary>OpenRLHF's advantage_estimator values for REINFORCE++.</summary>
public enum ReinforceEstimator
{
    /// <summary>reinforce: per-token −β·k1 in the reward, score at the last token, returns whitened over the batch.</summary>
    Reinforce,
    /// <summary>reinforce_baseline: the group's mean score subtracted first, no KL in the reward but β·k2 in the loss.</summary>
    ReinforceBaseline,
}

/// <summary>Settings of REINFORCE++, with OpenRLHF's names where TRL has none.</summary>
public sealed record ReinforcePlusPlusConfig : IGroupPolicyGradientConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public OnlineArguments Online { get; init; } = new();

    /// <summary>reinforce or reinforce_baseline.</summary>
    [JsonPropertyName("advantage_estimator"), Description("reinforce (k1 in the reward) or reinforce_baseline (group mean subtracted, k2 KL loss).")]
    public ReinforceEstimator AdvantageEstimator { get; init; } = ReinforceEstimator.Reinforce;

    /// <summary>Completions per prompt (OpenRLHF's n_samples_per_prompt) and passes over each rollout (its max_epochs).</summary>
    public GroupSettings Group { get; init; } = new();

    /// <summary>β (OpenRLHF's init_kl_coef).</summary>
    [JsonPropertyName("kl_coef"), Description("KL coefficient: of k1 in the reward (reinforce) or of the k2 loss (reinforce_baseline).")]
    public float KlCoef { get; init; } = 0.01f;

    /// <summary>The clip range of the ratio (OpenRLHF's eps_clip).</summary>
    public ClipSettings Clip { get; init; } = new();

    /// <summary>The entropy bonus and adaptive control of β.</summary>
    public PolicyGradientSettings PolicyGradient { get; init; } = new();

    /// <summary>γ of the returns.</summary>
    [JsonPropertyName("gamma"), Description("Discount of the per-token returns.")]
    public float Gamma { get; init; } = 1f;

    /// <summary>Checks every REINFORCE++ setting.</summary>
    public void Validate() => this.Validate(KlCoef, "kl_coef", minimumGenerations: AdvantageEstimator == ReinforceEstimator.ReinforceBaseline ? 2 : 1,
        "reinforce_baseline subtracts the group's mean score, so it needs at least 2 completions per prompt");
}

/// <summary>
/// REINFORCE++ (Hu 2025) as OpenRLHF implements it: no critic and no per-prompt normalisation. Token rewards are
/// r_t = −β·k1_t with the score added at the last token (a process reward model's step rewards where their steps end);
/// advantages are the returns Σ_{s≥t} γ^{s−t}·r_s, whitened over
/// every token of the whole rollout (the global batch), then the clipped surrogate. The baseline variant subtracts the
/// group's mean score before the returns (but not its std: the global whitening scales), and moves the KL from the
/// reward into the loss as β·k2, whose gradient is that of KL(π‖π_ref).
/// </summary>
public sealed class ReinforcePlusPlusTrainer(ReinforcePlusPlusConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, OnlineInputs inputs)
    : OnlineTrainer<PolicyGradientBatch>(config, config.Plan(config.KlCoef) with { StepRewards = true }, policy, reference, inputs)
{
    private readonly bool baseline = config.AdvantageEstimator == ReinforceEstimator.ReinforceBaseline;
    private readonly PolicyLossSettings loss = config.PolicyLoss(config.AdvantageEstimator == ReinforceEstimator.ReinforceBaseline ? KlEstimator.K2 : null, LossAggregation.Bnpo);

    /// <summary>The whitened discounted returns of the KL-shaped token rewards (of the group-centred scores for reinforce_baseline).</summary>
    protected override PolicyGradientBatch Advantages(EvaluatedRollout evaluated, Dictionary<string, double> metrics)
    {
        var rollout = evaluated.Rollout;
        var scores = baseline ? GroupMeanBaseline.Subtract(evaluated.Scores, config.Group.NumGenerations) : evaluated.Scores;
        var rewards = new float[rollout.Rows * rollout.CompletionLength];
        float beta = evaluated.KlCoefficient;
        if (!baseline && beta > 0)
        {
            var kl = evaluated.TokenKl(KlEstimator.K1);
            for (int i = 0; i < rewards.Length; i++) rewards[i] = -beta * kl[i];
            metrics["objective/non_score_reward"] = rollout.SequenceSums(rewards).Average();
        }
        var tokenScores = evaluated.Scored.TokenScores(scores);
        for (int i = 0; i < rewards.Length; i++) rewards[i] += tokenScores[i];
        // The discounted return is GAE with λ = 1 and no critic (V = 0).
        var (returns, _) = GeneralizedAdvantageEstimation.Compute(rewards, new float[rewards.Length], rollout.Lengths, rollout.CompletionLength, config.Gamma, 1f);
        // OpenRLHF whitens with the biased variance over every kept token of the batch.
        return new PolicyGradientBatch(evaluated, MaskedStatistics.Whiten(returns, rollout.CompletionMask, unbiased: false), rollout.CompletionMask);
    }

    /// <summary>The clipped surrogate (with β·k2 in the loss for reinforce_baseline), a token mean over each micro-batch.</summary>
    protected override StepOutput Loss(PolicyGradientBatch batch, int[] rows, MiniBatch miniBatch) =>
        batch.PolicyLoss(Model, rows, miniBatch, loss, config.Online.Sampling.Temperature);
}
