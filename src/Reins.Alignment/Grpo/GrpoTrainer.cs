using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Models.Transformers;
using Reins.Rewards.Critics;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Grpo;

/// <summary>Settings of group relative policy optimisation, with TRL's GRPOConfig names.</summary>
public sealed record GrpoConfig : IGroupPolicyGradientConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public OnlineArguments Online { get; init; } = new();

    /// <summary>G completions per prompt, whose rewards are each other's baseline, and μ passes over each rollout.</summary>
    public GroupSettings Group { get; init; } = new();

    /// <summary>β of the k3 KL term in the loss (0 = no KL and no reference model, TRL's default).</summary>
    [JsonPropertyName("beta"), Description("Weight of the k3 KL(π_ref‖π)-gradient term in the loss (0 = off, no reference model).")]
    public float Beta { get; init; }

    /// <summary>ε_low and ε_high of the clipped ratio.</summary>
    public ClipSettings Clip { get; init; } = new();

    /// <summary>The entropy bonus and adaptive control of β.</summary>
    public PolicyGradientSettings PolicyGradient { get; init; } = new();

    /// <summary>How token losses are aggregated: grpo, bnpo, dapo or dr_grpo (see <see cref="LossAggregation"/>).</summary>
    [JsonPropertyName("loss_type"), Description("Loss aggregation: grpo (sequence means), bnpo (micro-batch token mean), dapo (mini-batch token mean) or dr_grpo (/ batch × max_completion_length).")]
    public LossAggregation LossType { get; init; } = LossAggregation.Grpo;

    /// <summary>Divide advantages by the group's reward std; null = yes, except for dr_grpo, which drops it.</summary>
    [JsonPropertyName("scale_rewards"), Description("Divide advantages by the group's reward std (null = true, except false for loss_type dr_grpo).")]
    public bool? ScaleRewards { get; init; }

    /// <summary>Leave completions cut off at max_completion_length out of the loss (DAPO's overlong filtering).</summary>
    [JsonPropertyName("mask_truncated_completions"), Description("Exclude completions that end without EOS from the loss.")]
    public bool MaskTruncatedCompletions { get; init; }

    /// <summary>How a cost model is used (safe GRPO, or fixed shaping).</summary>
    public CostConstraintSettings Cost { get; init; } = new();

    /// <summary>Critique-GRPO's refinements per group (0 = off).</summary>
    [JsonPropertyName("critique_refinements"), Description("Critique-GRPO (Zhang et al. 2025): when none of a group's first num_generations - k responses is correct, each is critiqued and rewritten, and k refinements (correct first) take the group's last k places; they learn through policy shaping. 0 = off.")]
    public int CritiqueRefinements { get; init; }

    /// <summary>The critique a failed response gets.</summary>
    [JsonPropertyName("critique_type"), Description("indicative (\"The generated solution is incorrect.\"), ground_truth (adds the record's \"answer\") or critic (a generative critic's critique; reins grpo --critique-model DIR).")]
    public CritiqueType CritiqueType { get; init; } = CritiqueType.GroundTruth;

    /// <summary>A response whose reward reaches this is correct, for Critique-GRPO.</summary>
    [JsonPropertyName("critique_correct_score"), Description("Critique-GRPO: a response whose reward reaches this is correct (1 for a 0/1 verifier).")]
    public float CritiqueCorrectScore { get; init; } = 1f;

    /// <summary>γ of the shaping f(p) = p/(p+γ) on refinement tokens.</summary>
    [JsonPropertyName("policy_shaping_gamma"), Description("Critique-GRPO: gamma of the shaping f(p) = p / (p + gamma) that replaces the clipped ratio on refinement tokens (0.1 as the paper).")]
    public float PolicyShapingGamma { get; init; } = 0.1f;

    /// <summary>Checks every GRPO setting.</summary>
    public void Validate()
    {
        this.Validate(Beta, "beta", minimumGenerations: 2, "GRPO needs at least 2 completions per prompt (a group of one has no baseline)");
        Cost.Validate();
        Settings.Require(CritiqueRefinements >= 0 && (CritiqueRefinements == 0 || CritiqueRefinements < Group.NumGenerations), "critique_refinements",
            "must be 0 (off) or fewer than num_generations, so each group keeps an initial response");
        Settings.Require(PolicyShapingGamma > 0 && float.IsFinite(PolicyShapingGamma), "policy_shaping_gamma", "must be a positive number");
    }
}

/// <summary>
/// GRPO (Shao et al. 2024, DeepSeekMath): no critic — G completions per prompt, each token of a completion gets its
/// group-relative advantage; the policy follows the clipped surrogate, with β·k3 against the reference in the loss
/// (whose gradient is that of KL(π_ref‖π), see <see cref="KlPenalty.Loss"/>), aggregated by loss_type. Variants by
/// setting: DAPO (epsilon_high, loss_type dapo, mask_truncated_completions), Dr. GRPO (loss_type dr_grpo). Logs TRL's
/// reward, reward_std, rewards/&lt;name&gt;/mean, frac_reward_zero_std, completions/*, kl, clip_ratio/*.
/// </summary>
public sealed class GrpoTrainer : OnlineTrainer<PolicyGradientBatch>
{
    private readonly GrpoConfig config;
    private readonly PolicyLossSettings loss;
    private readonly CostConstraint? constraint;

    /// <summary>
    /// GRPO; <paramref name="critic"/> writes the critiques of critique_type critic. With <paramref name="cost"/> (a cost
    /// model's raw scores, above 0 unsafe) it is safe GRPO: the reward's and the cost's group-relative advantages are
    /// priced by a Lagrange multiplier, (A_r − λ·A_c)/(1 + λ), λ rising while the mean episode cost exceeds the
    /// threshold (Safe RLHF's rule, without critics).
    /// </summary>
    public GrpoTrainer(GrpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, OnlineInputs inputs, GenerativeCritic? critic = null, IRewardSource? cost = null)
        : this(config, policy, reference, inputs, critic, cost is null ? null : new CostConstraint(cost, config.Cost)) { }

    private GrpoTrainer(GrpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, OnlineInputs inputs, GenerativeCritic? critic, CostConstraint? constraint)
        : base(config, config.Plan(config.Beta) with
        {
            Refinement = config.CritiqueRefinements > 0 ? new CritiqueRefinement(config.CritiqueRefinements, config.CritiqueType, config.CritiqueCorrectScore, critic) : null,
            Parts = constraint?.Multiplier is { } multiplier ? [multiplier] : [],
        }, policy, reference, inputs)
    {
        (this.config, this.constraint) = (config, constraint);
        loss = config.PolicyLoss(KlEstimator.K3, config.LossType) with { ShapingGamma = config.PolicyShapingGamma };
    }

    /// <summary>
    /// Each completion's reward against its group's (Eq. 3's Â_{i,t}, the same for every token of completion i); with
    /// critique refinements, R − mean(R) over the group the refinements joined, without the std (Critique-GRPO §4.1).
    /// </summary>
    protected override PolicyGradientBatch Advantages(EvaluatedRollout evaluated, Dictionary<string, double> metrics)
    {
        var rollout = evaluated.Rollout;
        bool scale = config.CritiqueRefinements == 0 && (config.ScaleRewards ?? config.LossType != LossAggregation.DrGrpo);     // Dr. GRPO drops the std (Liu et al. 2025, §3.1)
        // The episode cost of a completion is its cost model's score; λ moves first, then prices this step's advantages.
        var costs = constraint?.Costs(evaluated.Scored, GlobalStep, metrics);
        var (advantages, fractionZeroStd) = GroupRelativeAdvantage.Compute(costs is null ? evaluated.Scores : constraint!.Shaped(evaluated.Scores, costs), config.Group.NumGenerations, scale);
        metrics["frac_reward_zero_std"] = fractionZeroStd;
        if (constraint?.Multiplier is { } multiplier)
            advantages = multiplier.Advantages(advantages, GroupRelativeAdvantage.Compute(costs!, config.Group.NumGenerations, scale).Advantages);
        // Truncated completions still count in their group's statistics; they only stop teaching (DAPO §3.4).
        var lossMask = config.MaskTruncatedCompletions ? rollout.MaskWhere(r => rollout.Finished[r]) : rollout.CompletionMask;
        var offPolicy = evaluated.Scored.OffPolicy is { } rows && rows.Any(r => r) ? rollout.MaskWhere(r => rows[r]) : null;
        return new PolicyGradientBatch(evaluated, rollout.PerToken(advantages), lossMask) { OffPolicyTokens = offPolicy };
    }

    /// <summary>The clipped surrogate with β·k3 in the loss, aggregated by loss_type.</summary>
    protected override StepOutput Loss(PolicyGradientBatch batch, int[] rows, MiniBatch miniBatch) =>
        batch.PolicyLoss(Model, rows, miniBatch, loss, config.Online.Sampling.Temperature);
}
