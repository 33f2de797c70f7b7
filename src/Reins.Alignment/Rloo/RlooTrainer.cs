using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Online;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Rloo;

/// <summary>Settings of REINFORCE leave-one-out, with TRL's RLOOConfig names.</summary>
public sealed record RlooConfig : OnlineConfig
{
    /// <summary>k, completions sampled per prompt.</summary>
    [JsonPropertyName("num_generations"), Description("Completions per prompt (k, at least 2).")]
    public int NumGenerations { get; init; } = 4;

    /// <summary>β of the sequence-level KL penalty subtracted from each score.</summary>
    [JsonPropertyName("beta"), Description("Weight of the per-sequence KL penalty subtracted from the score (0 = off, no reference model).")]
    public float Beta { get; init; } = 0.05f;

    /// <summary>ε of the clipped ratio.</summary>
    [JsonPropertyName("epsilon"), Description("Clip range of the ratio.")]
    public float Epsilon { get; init; } = 0.2f;

    /// <summary>Passes over each rollout.</summary>
    [JsonPropertyName("num_iterations"), Description("Passes over each rollout.")]
    public int NumIterations { get; init; } = 1;

    /// <summary>Whiten the advantages over the whole rollout.</summary>
    [JsonPropertyName("normalize_advantages"), Description("Whiten the advantages over the rollout.")]
    public bool NormalizeAdvantages { get; init; }

    /// <inheritdoc/>
    public override int SamplesPerPrompt => NumGenerations;
    /// <inheritdoc/>
    public override int UpdateEpochs => NumIterations;
    /// <inheritdoc/>
    public override float ClipLow => Epsilon;
    /// <inheritdoc/>
    public override float ClipHigh => Epsilon;
    /// <inheritdoc/>
    public override float KlCoefficient => Beta;
    /// <inheritdoc/>
    public override KlEstimator? KlLoss => null;
    /// <inheritdoc/>
    public override LossAggregation Aggregation => LossAggregation.Bnpo;

    /// <summary>Checks the RLOO settings too.</summary>
    public override void Validate()
    {
        if (NumGenerations < 2) throw new ArgumentException("num_generations: RLOO needs at least 2 completions per prompt (the baseline is the others' mean).");
        base.Validate();
    }
}

/// <summary>
/// The leave-one-out baseline of Kool et al. 2019 as RLOO uses it (Ahmadian et al. 2024, Eq. 5): with k samples of a
/// prompt, sample i's baseline is the mean reward of the other k − 1, so A_i = r_i − (Σ_j r_j − r_i)/(k − 1) — unbiased,
/// since the baseline does not depend on sample i.
/// </summary>
public static class LeaveOneOutBaseline
{
    /// <summary>Advantages [rows] for groups of <paramref name="k"/> adjacent rewards.</summary>
    public static float[] Advantages(ReadOnlySpan<float> rewards, int k)
    {
        var advantages = new float[rewards.Length];
        for (int g = 0; g < rewards.Length / k; g++)
        {
            double sum = 0;
            for (int i = 0; i < k; i++) sum += rewards[g * k + i];
            for (int i = 0; i < k; i++)
            {
                float r = rewards[g * k + i];
                advantages[g * k + i] = (float)(r - (sum - r) / (k - 1));
            }
        }
        return advantages;
    }
}

/// <summary>
/// RLOO (Ahmadian et al. 2024, "Back to Basics"): the whole completion is one action. Its reward is the score less
/// β·Σ_t k1_t (the sequence's KL to the reference, as TRL's RLOO), its advantage that reward less the leave-one-out
/// baseline, applied to every token through the clipped surrogate (token-level ratio and mean, as TRL ≥ 0.20).
/// Logs objective/rlhf_reward and objective/non_score_reward beside the shared metrics.
/// </summary>
public sealed class RlooTrainer(RlooConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, ITextEncoder encoder, Func<int[], string> decode,
    IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, Action<string>? writeExtraFiles)
    : OnlineTrainer<RlooConfig>(config, policy, reference, encoder, decode, reward, prompts, writeExtraFiles)
{
    /// <inheritdoc/>
    protected override void ComputeAdvantages(Rollout rollout, Dictionary<string, double> metrics)
    {
        var rewards = (float[])rollout.Scores.Clone();
        if (Kl.Value > 0)
        {
            var kl = rollout.SequenceSums(rollout.TokenKl(KlEstimator.K1));
            for (int r = 0; r < rewards.Length; r++) rewards[r] -= Kl.Value * kl[r];
            metrics["objective/non_score_reward"] = -Kl.Value * kl.Average();
        }
        metrics["objective/rlhf_reward"] = rewards.Average();
        var advantages = LeaveOneOutBaseline.Advantages(rewards, Config.NumGenerations);
        if (Config.NormalizeAdvantages)
        {
            var all = new float[advantages.Length];
            Array.Fill(all, 1f);
            advantages = MaskedStatistics.Whiten(advantages, all);
        }
        rollout.Advantages = rollout.PerToken(advantages);
    }
}
