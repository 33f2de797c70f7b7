using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Online;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

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
public sealed record ReinforcePlusPlusConfig : OnlineConfig
{
    /// <summary>reinforce or reinforce_baseline.</summary>
    [JsonPropertyName("advantage_estimator"), Description("reinforce (k1 in the reward) or reinforce_baseline (group mean subtracted, k2 KL loss).")]
    public ReinforceEstimator AdvantageEstimator { get; init; } = ReinforceEstimator.Reinforce;

    /// <summary>Completions per prompt (OpenRLHF's n_samples_per_prompt).</summary>
    [JsonPropertyName("num_generations"), Description("Completions per prompt (at least 2 for reinforce_baseline).")]
    public int NumGenerations { get; init; } = 4;

    /// <summary>β (OpenRLHF's init_kl_coef).</summary>
    [JsonPropertyName("kl_coef"), Description("KL coefficient: of k1 in the reward (reinforce) or of the k2 loss (reinforce_baseline).")]
    public float KlCoef { get; init; } = 0.01f;

    /// <summary>ε of the clipped ratio (OpenRLHF's eps_clip).</summary>
    [JsonPropertyName("epsilon"), Description("Clip range of the ratio.")]
    public float Epsilon { get; init; } = 0.2f;

    /// <summary>Passes over each rollout (OpenRLHF's max_epochs).</summary>
    [JsonPropertyName("num_iterations"), Description("Passes over each rollout.")]
    public int NumIterations { get; init; } = 1;

    /// <summary>γ of the returns.</summary>
    [JsonPropertyName("gamma"), Description("Discount of the per-token returns.")]
    public float Gamma { get; init; } = 1f;

    /// <inheritdoc/>
    public override int SamplesPerPrompt => NumGenerations;
    /// <inheritdoc/>
    public override int UpdateEpochs => NumIterations;
    /// <inheritdoc/>
    public override float ClipLow => Epsilon;
    /// <inheritdoc/>
    public override float ClipHigh => Epsilon;
    /// <inheritdoc/>
    public override float KlCoefficient => KlCoef;
    /// <inheritdoc/>
    public override KlEstimator? KlLoss => AdvantageEstimator == ReinforceEstimator.ReinforceBaseline ? KlEstimator.K2 : null;
    /// <inheritdoc/>
    public override LossAggregation Aggregation => LossAggregation.Bnpo;

    /// <summary>Checks the REINFORCE++ settings too.</summary>
    public override void Validate()
    {
        if (AdvantageEstimator == ReinforceEstimator.ReinforceBaseline && NumGenerations < 2)
            throw new ArgumentException("num_generations: reinforce_baseline subtracts the group's mean score, so it needs at least 2 completions per prompt.");
        base.Validate();
    }
}

/// <summary>
/// REINFORCE++ (Hu 2025) as OpenRLHF implements it: no critic and no per-prompt normalisation. Token rewards are
/// r_t = −β·k1_t with the score added at the last token; advantages are the returns Σ_{s≥t} γ^{s−t}·r_s, whitened over
/// every token of the whole rollout (the global batch), then the clipped surrogate. The baseline variant subtracts the
/// group's mean score before the returns (but not its std: the global whitening scales), and moves the KL from the
/// reward into the loss as β·k2, whose gradient is that of KL(π‖π_ref).
/// </summary>
public sealed class ReinforcePlusPlusTrainer(ReinforcePlusPlusConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, ITextEncoder encoder,
    Func<int[], string> decode, IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, Action<string>? writeExtraFiles)
    : OnlineTrainer<ReinforcePlusPlusConfig>(config, policy, reference, encoder, decode, reward, prompts, writeExtraFiles)
{
    /// <inheritdoc/>
    protected override void ComputeAdvantages(Rollout rollout, Dictionary<string, double> metrics)
    {
        var scores = (float[])rollout.Scores.Clone();
        if (Config.AdvantageEstimator == ReinforceEstimator.ReinforceBaseline)
            for (int g = 0; g < rollout.Rows / Config.NumGenerations; g++)
            {
                var group = scores.AsSpan(g * Config.NumGenerations, Config.NumGenerations);
                float mean = group.ToArray().Average();
                foreach (ref float s in group) s -= mean;
            }
        var rewards = new float[rollout.Rows * rollout.CompletionLength];
        if (Config.AdvantageEstimator == ReinforceEstimator.Reinforce && Kl.Value > 0)
        {
            var kl = rollout.TokenKl(KlEstimator.K1);
            for (int i = 0; i < rewards.Length; i++) rewards[i] = -Kl.Value * kl[i];
            metrics["objective/non_score_reward"] = rollout.SequenceSums(rewards).Average();
        }
        for (int r = 0; r < rollout.Rows; r++) rewards[r * rollout.CompletionLength + rollout.Lengths[r] - 1] += scores[r];
        // The discounted return is GAE with λ = 1 and no critic (V = 0).
        var (returns, _) = GeneralizedAdvantageEstimation.Compute(rewards, new float[rewards.Length], rollout.Lengths, rollout.CompletionLength, Config.Gamma, 1f);
        // OpenRLHF whitens with the biased variance over every kept token of the batch.
        rollout.Advantages = MaskedStatistics.Whiten(returns, rollout.CompletionMask, unbiased: false);
    }
}
