using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors;
using Reins.Tensors.Optim;

namespace Reins.Alignment.Ppo;

/// <summary>Settings of PPO for language models, with TRL's PPOConfig names (and the older TRL's for early stopping).</summary>
public sealed record PpoConfig : OnlineConfig
{
    /// <summary>Passes over each rollout.</summary>
    [JsonPropertyName("num_ppo_epochs"), Description("Passes over each rollout.")]
    public int NumPpoEpochs { get; init; } = 4;

    /// <summary>ε of the policy ratio clip.</summary>
    [JsonPropertyName("cliprange"), Description("Clip range of the policy ratio.")]
    public float Cliprange { get; init; } = 0.2f;

    /// <summary>How far a new value may move from the rollout's value before its loss is clipped.</summary>
    [JsonPropertyName("cliprange_value"), Description("Clip range of the value prediction around the rollout's value.")]
    public float ClipRangeValue { get; init; } = 0.2f;

    /// <summary>
    /// Weight of the value loss. TRL's policy and value share one optimiser, where it balances the two; here the critic
    /// has its own Adam, which is scale-invariant, so it matters mainly through the critic's gradient clipping.
    /// </summary>
    [JsonPropertyName("vf_coef"), Description("Weight of the value loss.")]
    public float VfCoef { get; init; } = 0.1f;

    /// <summary>γ of GAE.</summary>
    [JsonPropertyName("gamma"), Description("Discount of GAE.")]
    public float Gamma { get; init; } = 1f;

    /// <summary>λ of GAE.</summary>
    [JsonPropertyName("lam"), Description("Lambda of GAE.")]
    public float Lam { get; init; } = 0.95f;

    /// <summary>Whiten the token rewards (keeping their mean) before GAE.</summary>
    [JsonPropertyName("whiten_rewards"), Description("Whiten token rewards (mean kept) before GAE.")]
    public bool WhitenRewards { get; init; }

    /// <summary>β, the initial KL coefficient.</summary>
    [JsonPropertyName("kl_coef"), Description("KL coefficient (initial value with adap_kl_ctrl).")]
    public float KlCoef { get; init; } = 0.05f;

    /// <summary>The KL estimator: in the reward (k1 by default), or in the loss (k2 or k3) with use_kl_loss.</summary>
    [JsonPropertyName("kl_estimator"), Description("k1, k2 or k3: the per-token KL estimate in the reward, or in the loss with use_kl_loss (k2 or k3).")]
    public KlEstimator KlEstimator { get; init; } = KlEstimator.K1;

    /// <summary>Put the KL in the loss instead of shaping the reward with it (OpenRLHF's use_kl_loss).</summary>
    [JsonPropertyName("use_kl_loss"), Description("Put beta × KL in the loss instead of the reward.")]
    public bool UseKlLoss { get; init; }

    /// <summary>Stop a rollout's updates once a mini-batch's approximate KL exceeds 1.5 × this (null = never).</summary>
    [JsonPropertyName("target_kl"), Description("Early stopping: skip the rest of a rollout's updates once approx KL > 1.5 × target_kl (null = off).")]
    public float? TargetKl { get; init; }

    /// <summary>Learning rate of the critic (null = learning_rate).</summary>
    [JsonPropertyName("critic_learning_rate"), Description("Learning rate of the critic (null = learning_rate).")]
    public float? CriticLearningRate { get; init; }

    /// <summary>Steps at the start during which only the critic learns (OpenRLHF's freezing_actor_steps).</summary>
    [JsonPropertyName("value_warmup_steps"), Description("Initial steps that train only the critic, the policy frozen.")]
    public int ValueWarmupSteps { get; init; }

    /// <inheritdoc/>
    public override int SamplesPerPrompt => 1;
    /// <inheritdoc/>
    public override int UpdateEpochs => NumPpoEpochs;
    /// <inheritdoc/>
    public override float ClipLow => Cliprange;
    /// <inheritdoc/>
    public override float ClipHigh => Cliprange;
    /// <inheritdoc/>
    public override float KlCoefficient => KlCoef;
    /// <inheritdoc/>
    public override KlEstimator? KlLoss => UseKlLoss ? KlEstimator : null;
    /// <inheritdoc/>
    public override LossAggregation Aggregation => LossAggregation.Bnpo;

    /// <summary>Checks the PPO settings too.</summary>
    public override void Validate()
    {
        base.Validate();
        if (UseKlLoss && KlEstimator == KlEstimator.K1)
            throw new ArgumentException("kl_estimator: k1 cannot be a loss term — its expected gradient is zero (E[∇log π] = 0); use k2 or k3 with use_kl_loss, or k1 in the reward.");
        if (ClipRangeValue <= 0 || VfCoef < 0 || CriticLearningRate is <= 0 || ValueWarmupSteps < 0 || TargetKl is <= 0)
            throw new ArgumentException("cliprange_value/vf_coef/critic_learning_rate/value_warmup_steps/target_kl: out of range.");
    }
}

/// <summary>
/// PPO for language models as InstructGPT (Ouyang et al. 2022) trains it and "The N Implementation Details of RLHF with
/// PPO" (Huang et al. 2024) spells out. Each step samples one completion per prompt; the reward of token t is
/// −β·k1_t (the KL to the frozen reference, β fixed or adapted as Ziegler et al.) with the score added at the last
/// token; GAE(γ, λ) against the critic's values gives advantages (whitened over the rollout's tokens) and returns (the
/// critic's targets). Updates: the clipped surrogate for the policy, the clipped value loss for the critic, both
/// every mini-batch for num_ppo_epochs, each model with its own optimiser, learning rate and gradient clipping. The
/// critic is a separate …ForSequenceClassification model (num_labels 1) read at every position, started from a reward
/// model or from the policy's weights, and saved as one. Logs TRL's objective/*, policy/*, loss/*, val/* names.
/// </summary>
public sealed class PpoTrainer : OnlineTrainer<PpoConfig>
{
    /// <summary>Directory name of the critic inside the run and its checkpoints.</summary>
    public const string CriticDirectory = "critic";
    private const string CriticOptimizerFile = "critic_optimizer.safetensors";

    private readonly AdamW criticOptimizer;

    /// <summary>The value model.</summary>
    public CausalLanguageModel Critic { get; }

    /// <summary>Sets up PPO; <paramref name="critic"/> is a …ForSequenceClassification model with one label (see <see cref="CriticFromPolicy"/>).</summary>
    public PpoTrainer(PpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, CausalLanguageModel critic, ITextEncoder encoder,
        Func<int[], string> decode, IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, Action<string>? writeExtraFiles)
        : base(config, policy, reference, encoder, decode, reward, prompts, writeExtraFiles)
    {
        if (critic.Config.NumLabels != 1) throw new ArgumentException($"ppo: the critic must be a …ForSequenceClassification model with num_labels 1; it is {critic.Config.Architecture}.");
        if (critic.Config.VocabSize != policy.Config.VocabSize)
            throw new ArgumentException($"ppo: the critic's vocabulary ({critic.Config.VocabSize}) differs from the policy's ({policy.Config.VocabSize}); it must read the same tokens.");
        Critic = critic;
        criticOptimizer = NewOptimizer(critic);
    }

    /// <summary>A critic on the policy's trunk: the same architecture and weights, its LM head replaced by a fresh scalar score head.</summary>
    public static CausalLanguageModel CriticFromPolicy(CausalLanguageModel policy, ulong seed)
    {
        var critic = CausalLanguageModel.Create(policy.Config with { NumLabels = 1 }, seed);
        critic.CopyParametersFrom(policy);
        return critic;
    }

    /// <inheritdoc/>
    protected override void EvaluateRollout(Rollout rollout) =>
        rollout.Values = rollout.Evaluate(rows => rollout.CriticValues(Critic, rows), Config.PerDeviceTrainBatchSize);

    /// <inheritdoc/>
    protected override void ComputeAdvantages(Rollout rollout, Dictionary<string, double> metrics)
    {
        int width = rollout.CompletionLength;
        var rewards = new float[rollout.Rows * width];
        if (!Config.UseKlLoss && Kl.Value > 0)
        {
            // InstructGPT's reward shaping: every token pays −β·KL; the estimator is k1 unless kl_estimator says otherwise.
            var kl = rollout.TokenKl(Config.KlEstimator);
            for (int i = 0; i < rewards.Length; i++) rewards[i] = -Kl.Value * kl[i];
        }
        double nonScore = rollout.SequenceSums(rewards).Average();
        // The score arrives at the completion's last real token (EOS, or the last token before the cap).
        for (int r = 0; r < rollout.Rows; r++) rewards[r * width + rollout.Lengths[r] - 1] += rollout.Scores[r];
        if (Config.WhitenRewards) rewards = MaskedStatistics.Whiten(rewards, rollout.CompletionMask, shiftMean: false);
        var (advantages, returns) = GeneralizedAdvantageEstimation.Compute(rewards, rollout.Values!, rollout.Lengths, width, Config.Gamma, Config.Lam);
        rollout.Returns = returns;
        rollout.Advantages = MaskedStatistics.Whiten(advantages, rollout.CompletionMask);
        metrics["objective/scores"] = rollout.Scores.Average();
        metrics["objective/non_score_reward"] = nonScore;
        metrics["objective/rlhf_reward"] = rollout.Scores.Average() + nonScore;
    }

    private bool WarmingUp => GlobalStep < Config.ValueWarmupSteps;

    /// <inheritdoc/>
    protected override IEnumerable<(string GradNormMetric, AdamW Optimizer, float PeakLearningRate)> Optimizers()
    {
        if (!WarmingUp)
            foreach (var policy in base.Optimizers()) yield return policy;
        yield return ("val/grad_norm", criticOptimizer, Config.CriticLearningRate ?? Config.LearningRate);
    }

    /// <summary>
    /// The policy's clipped surrogate (none while the critic warms up) plus vf_coef × the clipped value loss
    /// ½·max((V − R)², (clip(V, V_old ± cliprange_value) − R)²), a token mean over the micro-batch.
    /// </summary>
    protected override StepOutput Loss(Rollout rollout, int[] rows, MiniBatch miniBatch)
    {
        var policy = WarmingUp ? null : base.Loss(rollout, rows, miniBatch);
        int n = rows.Length * rollout.CompletionLength;
        var mask = rollout.Gather(rollout.CompletionMask, rows);
        var oldValues = Tensor.FromArray(rollout.Gather(rollout.Values!, rows), n);
        var returns = Tensor.FromArray(rollout.Gather(rollout.Returns!, rows), n);
        var values = rollout.CriticValues(Critic, rows);
        var clippedValues = oldValues + Ops.Clamp(values - oldValues, -Config.ClipRangeValue, Config.ClipRangeValue);
        var unclippedLoss = Ops.Pow(values - returns, 2);
        var clippedLoss = Ops.Pow(clippedValues - returns, 2);
        var valueLoss = 0.5f * Ops.Maximum(unclippedLoss, clippedLoss);
        var weights = TokenLossWeights.Of(LossAggregation.Bnpo, mask, rows.Length, rollout.CompletionLength, miniBatch);
        var loss = Config.VfCoef * Ops.Sum(valueLoss * Tensor.FromArray(weights, n));
        if (policy is not null) loss = policy.Loss + loss;

        var metrics = policy is null ? new Dictionary<string, double>() : new Dictionary<string, double>(policy.Metrics);
        var clipped = new float[n];
        for (int i = 0; i < n; i++) clipped[i] = clippedLoss.Span[i] > unclippedLoss.Span[i] ? 1 : 0;
        metrics["loss/value_avg"] = MaskedStatistics.Mean(valueLoss.Span, mask);
        metrics["val/clipfrac_avg"] = MaskedStatistics.Mean(clipped, mask);
        metrics["val/vpred"] = MaskedStatistics.Mean(values.Span, mask);
        return new StepOutput(loss, metrics);
    }

    /// <summary>Old TRL's early stopping: a mini-batch whose approximate KL passed 1.5 × target_kl ends this rollout's updates.</summary>
    protected override bool StopUpdates(IReadOnlyDictionary<string, double> miniBatchMetrics) =>
        Config.TargetKl is { } target && miniBatchMetrics.TryGetValue("policy/approxkl_avg", out double kl) && kl > 1.5 * target;

    /// <inheritdoc/>
    protected override void SaveExtras(string directory)
    {
        HfCheckpoint.Save(Critic, Path.Combine(directory, CriticDirectory));
        OptimizerState.Save(Path.Combine(directory, CriticOptimizerFile), criticOptimizer);
    }

    /// <inheritdoc/>
    protected override void RestoreExtras(string directory)
    {
        Critic.CopyParametersFrom(HfCheckpoint.Load(Path.Combine(directory, CriticDirectory)));
        OptimizerState.Load(Path.Combine(directory, CriticOptimizerFile), criticOptimizer);
    }

    /// <inheritdoc/>
    protected override void SaveFinalExtras() => HfCheckpoint.Save(Critic, Path.Combine(Run.Path, CriticDirectory), WriteExtraFiles);
}
