using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Online;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Grpo;

/// <summary>Settings of group relative policy optimisation, with TRL's GRPOConfig names.</summary>
public sealed record GrpoConfig : OnlineConfig
{
    /// <summary>G, completions sampled per prompt; the group's rewards are each other's baseline.</summary>
    [JsonPropertyName("num_generations"), Description("Completions per prompt (G, at least 2).")]
    public int NumGenerations { get; init; } = 4;

    /// <summary>β of the k3 KL term in the loss (0 = no KL and no reference model, TRL's default).</summary>
    [JsonPropertyName("beta"), Description("Weight of the k3 KL(π_ref‖π)-gradient term in the loss (0 = off, no reference model).")]
    public float Beta { get; init; }

    /// <summary>ε (ε_low) of the clipped ratio.</summary>
    [JsonPropertyName("epsilon"), Description("Lower clip range: the ratio is clipped at 1 − epsilon.")]
    public float Epsilon { get; init; } = 0.2f;

    /// <summary>ε_high of the clipped ratio (DAPO's clip-higher; null = epsilon).</summary>
    [JsonPropertyName("epsilon_high"), Description("Upper clip range: the ratio is clipped at 1 + epsilon_high (null = epsilon).")]
    public float? EpsilonHigh { get; init; }

    /// <summary>μ, passes over each rollout.</summary>
    [JsonPropertyName("num_iterations"), Description("Passes over each rollout (mu).")]
    public int NumIterations { get; init; } = 1;

    /// <summary>How token losses are aggregated: grpo, bnpo, dapo or dr_grpo (see <see cref="LossAggregation"/>).</summary>
    [JsonPropertyName("loss_type"), Description("Loss aggregation: grpo (sequence means), bnpo (micro-batch token mean), dapo (mini-batch token mean) or dr_grpo (/ batch × max_completion_length).")]
    public LossAggregation LossType { get; init; } = LossAggregation.Grpo;

    /// <summary>Divide advantages by the group's reward std; null = yes, except for dr_grpo, which drops it.</summary>
    [JsonPropertyName("scale_rewards"), Description("Divide advantages by the group's reward std (null = true, except false for loss_type dr_grpo).")]
    public bool? ScaleRewards { get; init; }

    /// <summary>Leave completions cut off at max_completion_length out of the loss (DAPO's overlong filtering).</summary>
    [JsonPropertyName("mask_truncated_completions"), Description("Exclude completions that end without EOS from the loss.")]
    public bool MaskTruncatedCompletions { get; init; }

    /// <inheritdoc/>
    public override int SamplesPerPrompt => NumGenerations;
    /// <inheritdoc/>
    public override int UpdateEpochs => NumIterations;
    /// <inheritdoc/>
    public override float ClipLow => Epsilon;
    /// <inheritdoc/>
    public override float ClipHigh => EpsilonHigh ?? Epsilon;
    /// <inheritdoc/>
    public override float KlCoefficient => Beta;
    /// <inheritdoc/>
    public override KlEstimator? KlLoss => KlEstimator.K3;
    /// <inheritdoc/>
    public override LossAggregation Aggregation => LossType;

    /// <summary>Checks the GRPO settings too.</summary>
    public override void Validate()
    {
        if (NumGenerations < 2) throw new ArgumentException("num_generations: GRPO needs at least 2 completions per prompt (a group of one has no baseline).");
        base.Validate();
    }
}

/// <summary>
/// Group-relative advantages (Shao et al. 2024, §4.1.2, outcome supervision): each completion's reward less its
/// group's mean, divided by the group's standard deviation (unbiased, as torch.std) plus 1e−4 unless scaling is off.
/// </summary>
public static class GroupRelativeAdvantage
{
    /// <summary>Advantages [rows] for groups of <paramref name="groupSize"/> adjacent rewards, and the share of groups whose rewards are all equal (they teach nothing).</summary>
    public static (float[] Advantages, double FractionZeroStd) Compute(ReadOnlySpan<float> rewards, int groupSize, bool scale)
    {
        var advantages = new float[rewards.Length];
        int groups = rewards.Length / groupSize, flat = 0;
        for (int g = 0; g < groups; g++)
        {
            var group = rewards.Slice(g * groupSize, groupSize);
            double mean = 0, squares = 0;
            foreach (float r in group) mean += r;
            mean /= groupSize;
            foreach (float r in group) squares += (r - mean) * (r - mean);
            double std = Math.Sqrt(squares / (groupSize - 1));
            if (std < 1e-8) flat++;
            for (int i = 0; i < groupSize; i++)
                advantages[g * groupSize + i] = (float)((group[i] - mean) / (scale ? std + 1e-4 : 1));
        }
        return (advantages, (double)flat / groups);
    }
}

/// <summary>
/// GRPO (Shao et al. 2024, DeepSeekMath): no critic — G completions per prompt, each token of a completion gets its
/// group-relative advantage; the policy follows the clipped surrogate, with β·k3 against the reference in the loss
/// (whose gradient is that of KL(π_ref‖π), see <see cref="KlPenalty.Loss"/>), aggregated by loss_type. Variants by
/// setting: DAPO (epsilon_high, loss_type dapo, mask_truncated_completions), Dr. GRPO (loss_type dr_grpo). Logs TRL's
/// reward, reward_std, rewards/&lt;name&gt;/mean, frac_reward_zero_std, completions/*, kl, clip_ratio/*.
/// </summary>
public sealed class GrpoTrainer(GrpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, ITextEncoder encoder, Func<int[], string> decode,
    IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, Action<string>? writeExtraFiles)
    : OnlineTrainer<GrpoConfig>(config, policy, reference, encoder, decode, reward, prompts, writeExtraFiles)
{
    /// <inheritdoc/>
    protected override void ComputeAdvantages(Rollout rollout, Dictionary<string, double> metrics)
    {
        bool scale = Config.ScaleRewards ?? Config.LossType != LossAggregation.DrGrpo;
        var (advantages, fractionZeroStd) = GroupRelativeAdvantage.Compute(rollout.Scores, Config.NumGenerations, scale);
        metrics["frac_reward_zero_std"] = fractionZeroStd;
        rollout.Advantages = rollout.PerToken(advantages);
        // Truncated completions still count in their group's statistics; they only stop teaching (DAPO §3.4).
        if (Config.MaskTruncatedCompletions)
            for (int r = 0; r < rollout.Rows; r++)
                if (!rollout.Finished[r]) rollout.LossMask.AsSpan(r * rollout.CompletionLength, rollout.CompletionLength).Clear();
    }
}
