using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Alignment.Ppo;

/// <summary>Settings of PPO for language models, with TRL's PPOConfig names (and the older TRL's for early stopping).</summary>
public sealed record PpoConfig : IOnlineConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public OnlineArguments Online { get; init; } = new();

    /// <summary>The entropy bonus and adaptive KL control.</summary>
    public PolicyGradientSettings PolicyGradient { get; init; } = new();

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

    /// <summary>How a cost model is used: Safe RLHF's PPO-Lagrangian (with a cost critic), or fixed shaping.</summary>
    public CostConstraintSettings Cost { get; init; } = new();

    /// <summary>Checks every PPO setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Online.Validate();
        Online.ValidateGroups(Training, 1);
        PolicyGradient.Validate();
        Cost.Validate();
        Settings.Require(NumPpoEpochs >= 1, "num_ppo_epochs", "must be positive");
        Settings.Require(Cliprange is > 0 and < 1, "cliprange", "must be in (0, 1)");
        Settings.Require(KlCoef >= 0, "kl_coef", "must not be negative");
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
/// With a cost model it is Safe RLHF (Dai et al. 2024) as safe-rlhf's ppo_lag trains: a second critic for the cost, GAE
/// for each signal with the KL penalty split between them, and the policy's advantage (A_r − λ·A_c)/(1 + λ), λ a
/// <see cref="LagrangeMultiplier"/>; or, with cost_weight, PPO on r − w·c.
/// </summary>
public sealed class PpoTrainer : OnlineTrainer<PolicyGradientBatch>
{
    /// <summary>Directory name of the critic inside the run and its checkpoints.</summary>
    public const string CriticDirectory = "critic";

    /// <summary>Directory name of Safe RLHF's cost critic inside the run and its checkpoints.</summary>
    public const string CostCriticDirectory = "cost_critic";

    private readonly PpoConfig config;
    private readonly PolicyLossSettings policyLoss;
    private readonly CostConstraint? constraint;
    private readonly IReadOnlyList<CausalLanguageModel> critics;

    /// <summary>The value model.</summary>
    public CausalLanguageModel Critic => critics[0];

    /// <summary>
    /// Sets up PPO; <paramref name="critic"/> is a …ForSequenceClassification model with one label (see
    /// <see cref="CriticFromPolicy"/>). With <paramref name="cost"/> (a cost model's raw scores, above 0 unsafe) it is
    /// Safe RLHF, whose <paramref name="costCritic"/> (safe-rlhf starts it from the cost model) learns the cost's values;
    /// with cost_weight it is PPO on r − w·c and needs no cost critic.
    /// </summary>
    public PpoTrainer(PpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, CausalLanguageModel critic, OnlineInputs inputs,
        IRewardSource? cost = null, CausalLanguageModel? costCritic = null)
        : this(config, policy, reference, Critics(config, critic, cost, costCritic), inputs, cost is null ? null : new CostConstraint(cost, config.Cost)) { }

    private PpoTrainer(PpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, CausalLanguageModel[] critics, OnlineInputs inputs, CostConstraint? constraint)
        : base(config, Plan(config, policy, critics, constraint), policy, reference, inputs)
    {
        (this.config, this.critics, this.constraint) = (config, critics, constraint);
        // InstructGPT's KL is in the reward (k1 by default); use_kl_loss moves it into the loss as OpenRLHF does.
        policyLoss = new PolicyLossSettings(config.Cliprange, config.Cliprange, config.UseKlLoss ? config.KlEstimator : null, config.PolicyGradient.EntCoef, LossAggregation.Bnpo);
    }

    // The value model, and Safe RLHF's cost critic after it when the cost is constrained rather than shaped.
    private static CausalLanguageModel[] Critics(PpoConfig config, CausalLanguageModel critic, IRewardSource? cost, CausalLanguageModel? costCritic)
    {
        bool lagrangian = cost is not null && config.Cost.CostWeight is null;
        if (lagrangian && costCritic is null) throw new ArgumentException("ppo: Safe RLHF (a cost model without cost_weight) needs a cost critic.");
        if (!lagrangian && costCritic is not null) throw new ArgumentException("ppo: a cost critic is only trained by Safe RLHF (a cost model without cost_weight).");
        return costCritic is null ? [critic] : [critic, costCritic];
    }

    // One completion per prompt; each critic is a trained model with its own optimiser at the critic learning rate,
    // logged as val/grad_norm and val/cost_grad_norm.
    private static RolloutPlan Plan(PpoConfig config, CausalLanguageModel policy, CausalLanguageModel[] critics, CostConstraint? constraint)
    {
        (string Name, string GradNorm, string Directory)[] roles = [("critic", "val/grad_norm", CriticDirectory), ("cost critic", "val/cost_grad_norm", CostCriticDirectory)];
        foreach (var (critic, role) in critics.Zip(roles))
        {
            if (critic.Config.NumLabels != 1 || critic.Config.TokenClassification) throw new ArgumentException($"ppo: the {role.Name} must be a …ForSequenceClassification model with num_labels 1; it is {critic.Config.Architecture}.");
            if (critic.Config.VocabSize != policy.Config.VocabSize)
                throw new ArgumentException($"ppo: the {role.Name}'s vocabulary ({critic.Config.VocabSize}) differs from the policy's ({policy.Config.VocabSize}); it must read the same tokens.");
        }
        var training = config.Training;
        float learningRate = config.CriticLearningRate ?? training.LearningRate;
        return new RolloutPlan(SamplesPerPrompt: 1, config.NumPpoEpochs, config.PolicyGradient.Controller(config.KlCoef))
        {
            Critics = [.. critics.Zip(roles, (critic, role) => new TrainableModel(critic, training, learningRate, role.GradNorm, role.Directory))],
            PolicyFrozenSteps = config.ValueWarmupSteps,
            TargetKl = config.TargetKl,
            StepRewards = true,
            Parts = constraint?.Multiplier is { } multiplier ? [multiplier] : [],
        };
    }

    /// <summary>
    /// A critic on the policy's trunk: the same architecture and weights, its LM head replaced by a fresh scalar score
    /// head. A LoRA policy's critic shares its frozen base rather than copying it, and gets adapters of its own.
    /// </summary>
    public static CausalLanguageModel CriticFromPolicy(CausalLanguageModel policy, ulong seed)
    {
        // Only a LoRA policy's frozen weights are a base to share; any other's (a reference frozen by an earlier
        // trainer, say) are copied, since the critic trains them.
        var critic = CausalLanguageModel.Create(policy.Config with { NumLabels = 1 }, seed, policy.Lora is null ? null : policy);
        if (policy.Lora is null) critic.CopyParametersFrom(policy);
        return critic;
    }

    /// <summary>The token advantages of this step's rollout, with the cost model's costs (moving λ) when there is one.</summary>
    protected override PolicyGradientBatch Advantages(EvaluatedRollout evaluated, Dictionary<string, double> metrics)
    {
        var costs = constraint?.Costs(evaluated.Scored, GlobalStep, metrics);
        return TokenAdvantages(config, evaluated, costs is null ? evaluated.Scores : constraint!.Shaped(evaluated.Scores, costs),
            constraint?.Multiplier is { } multiplier ? (costs!, multiplier) : null, metrics);
    }

    /// <summary>
    /// PPO's advantages: token rewards −β·KL_t with the score added at the last real token (EOS, or the last before the
    /// cap) — a process reward model's step rewards where their steps end (Math-Shepherd's step-by-step PPO) —
    /// optionally whitened; GAE against the critic's values gives the returns (the critic's targets) and the advantages,
    /// whitened over the rollout's tokens. With <paramref name="cost"/>, Safe RLHF's: the KL penalty is split, −½·β·KL_t
    /// on the reward and +½·β·KL_t on the cost (with the cost at the last token), GAE runs for each against its own
    /// critic, and the advantage is (A_r − λ·A_c)/(1 + λ) before the whitening, which rescales it as a whole and so
    /// keeps safe-rlhf's balance of reward and cost. The policy still pays ½·β·KL in all: (−½βKL − λ·½βKL)/(1 + λ).
    /// </summary>
    public static PolicyGradientBatch TokenAdvantages(PpoConfig config, EvaluatedRollout evaluated, float[] scores, (float[] Costs, LagrangeMultiplier Multiplier)? cost,
        Dictionary<string, double> metrics)
    {
        var rollout = evaluated.Rollout;
        int width = rollout.CompletionLength;
        // InstructGPT's reward shaping: every token pays −β·KL; the estimator is k1 unless kl_estimator says otherwise.
        float beta = config.UseKlLoss ? 0 : evaluated.KlCoefficient * (cost is null ? 1 : 0.5f);
        var penalty = beta > 0 ? evaluated.TokenKl(config.KlEstimator) : new float[rollout.Rows * width];
        for (int i = 0; i < penalty.Length; i++) penalty[i] *= -beta;
        // The reward gets the penalty, Safe RLHF's cost its opposite.
        float[] Signal(float[] atTokens, float sign)
        {
            for (int i = 0; i < atTokens.Length; i++) atTokens[i] += sign * penalty[i];
            return config.WhitenRewards ? MaskedStatistics.Whiten(atTokens, rollout.CompletionMask, shiftMean: false) : atTokens;
        }
        var rewards = Signal(evaluated.Scored.TokenScores(scores), 1);
        var (advantages, returns) = GeneralizedAdvantageEstimation.Compute(rewards, evaluated.Values[0], rollout.Lengths, width, config.Gamma, config.Lam);
        List<float[]> targets = [returns];
        if (cost is var (costs, multiplier))
        {
            var costRewards = Signal(rollout.AtLastToken(costs), -1);
            var (costAdvantages, costReturns) = GeneralizedAdvantageEstimation.Compute(costRewards, evaluated.Values[1], rollout.Lengths, width, config.Gamma, config.Lam);
            advantages = multiplier.Advantages(advantages, costAdvantages);
            targets.Add(costReturns);
        }
        double nonScore = rollout.SequenceSums(penalty).Average();
        // What the policy learns from: the reward model's scores, or under fixed shaping r − w·c.
        metrics["objective/scores"] = scores.Average();
        metrics["objective/non_score_reward"] = nonScore;
        metrics["objective/rlhf_reward"] = scores.Average() + nonScore;
        return new PolicyGradientBatch(evaluated, MaskedStatistics.Whiten(advantages, rollout.CompletionMask), rollout.CompletionMask, targets);
    }

    /// <summary>
    /// The policy's clipped surrogate (none while the critic warms up) plus vf_coef × each critic's clipped value loss, a
    /// token mean over the micro-batch.
    /// </summary>
    protected override StepOutput Loss(PolicyGradientBatch batch, int[] rows, MiniBatch miniBatch)
    {
        // The policy's term, then each critic's after its backward (StepOutput.Next): one model's activations at a time.
        var rollout = batch.Evaluated.Rollout;
        var mask = rollout.Gather(rollout.CompletionMask, rows);
        StepOutput ValueTerm(int c)
        {
            var weights = Tensor.FromArray(TokenLossWeights.Of(LossAggregation.Bnpo, mask, rows.Length, rollout.CompletionLength, miniBatch), mask.Length);
            var values = rollout.CriticValues(critics[c], rows);
            var (valueLoss, clipped) = ValueLoss.Compute(values, rollout.Gather(batch.Evaluated.Values[c], rows), rollout.Gather(batch.Returns![c], rows), config.ClipRangeValue);
            string prefix = c == 0 ? "" : "cost_";
            var metrics = new Dictionary<string, double>
            {
                [$"loss/{prefix}value_avg"] = MaskedStatistics.Mean(valueLoss.Span, mask),
                [$"val/{prefix}clipfrac_avg"] = MaskedStatistics.Mean(clipped, mask),
                [$"val/{prefix}vpred"] = MaskedStatistics.Mean(values.Span, mask),
            };
            return new StepOutput(config.VfCoef * Ops.Sum(valueLoss * weights), metrics) { Next = c + 1 < critics.Count ? () => ValueTerm(c + 1) : null };
        }
        if (GlobalStep < config.ValueWarmupSteps) return ValueTerm(0);
        return batch.PolicyLoss(Model, rows, miniBatch, policyLoss, config.Online.Sampling.Temperature) with { Next = () => ValueTerm(0) };
    }
}
