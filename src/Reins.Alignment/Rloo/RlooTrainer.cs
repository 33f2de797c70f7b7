using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Models.Transformers;

namespace Reins.Alignment.Rloo;

/// <summary>Settings of REINFORCE leave-one-out, with TRL's RLOOConfig names.</summary>
public sealed record RlooConfig : IGroupPolicyGradientConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public OnlineArguments Online { get; init; } = new();

    /// <summary>k completions per prompt, each baselined by the others, and the passes over each rollout.</summary>
    public GroupSettings Group { get; init; } = new();

    /// <summary>β of the sequence-level KL penalty subtracted from each score.</summary>
    [JsonPropertyName("beta"), Description("Weight of the per-sequence KL penalty subtracted from the score (0 = off, no reference model).")]
    public float Beta { get; init; } = 0.05f;

    /// <summary>The clip range of the ratio.</summary>
    public ClipSettings Clip { get; init; } = new();

    /// <summary>The entropy bonus and adaptive control of β.</summary>
    public PolicyGradientSettings PolicyGradient { get; init; } = new();

    /// <summary>Whiten the advantages over the whole rollout.</summary>
    [JsonPropertyName("normalize_advantages"), Description("Whiten the advantages over the rollout.")]
    public bool NormalizeAdvantages { get; init; }

    /// <summary>Checks every RLOO setting.</summary>
    public void Validate() => this.Validate(Beta, "beta", minimumGenerations: 2, "RLOO needs at least 2 completions per prompt (the baseline is the others' mean)");
}

/// <summary>
/// RLOO (Ahmadian et al. 2024, "Back to Basics"): the whole completion is one action. Its reward is the score less
/// β·Σ_t k1_t (the sequence's KL to the reference, as TRL's RLOO), its advantage that reward less the leave-one-out
/// baseline (<see cref="LeaveOneOutBaseline"/>), applied to every token through the clipped surrogate (token-level
/// ratio and mean, as TRL ≥ 0.20). Logs objective/rlhf_reward and objective/non_score_reward beside the shared metrics.
/// </summary>
public sealed class RlooTrainer(RlooConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, OnlineInputs inputs)
    : OnlineTrainer<PolicyGradientBatch>(config, config.Plan(config.Beta), policy, reference, inputs)
{
    private readonly PolicyLossSettings loss = config.PolicyLoss(klLoss: null, LossAggregation.Bnpo);

    /// <summary>The KL-penalised sequence reward less the mean of the group's others (Eq. 5), on every token of the completion.</summary>
    protected override PolicyGradientBatch Advantages(EvaluatedRollout evaluated, Dictionary<string, double> metrics)
    {
        var rollout = evaluated.Rollout;
        var rewards = (float[])evaluated.Scores.Clone();
        float beta = evaluated.KlCoefficient;
        if (beta > 0)
        {
            var kl = rollout.SequenceSums(evaluated.TokenKl(KlEstimator.K1));
            for (int r = 0; r < rewards.Length; r++) rewards[r] -= beta * kl[r];
            metrics["objective/non_score_reward"] = -beta * kl.Average();
        }
        metrics["objective/rlhf_reward"] = rewards.Average();
        var advantages = LeaveOneOutBaseline.Advantages(rewards, config.Group.NumGenerations);
        if (config.NormalizeAdvantages)
        {
            var all = new float[advantages.Length];
            Array.Fill(all, 1f);
            advantages = MaskedStatistics.Whiten(advantages, all);
        }
        return new PolicyGradientBatch(evaluated, rollout.PerToken(advantages), rollout.CompletionMask);
    }

    /// <summary>The clipped surrogate, a token mean over each micro-batch.</summary>
    protected override StepOutput Loss(PolicyGradientBatch batch, int[] rows, MiniBatch miniBatch) =>
        batch.PolicyLoss(Model, rows, miniBatch, loss, config.Online.Sampling.Temperature);
}
