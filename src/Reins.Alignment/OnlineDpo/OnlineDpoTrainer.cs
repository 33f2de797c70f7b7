using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Dpo;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Sampling;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.Judges;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Alignment.OnlineDpo;

/// <summary>
/// Settings of online DPO, with TRL's OnlineDPOConfig names; the loss takes every <see cref="PreferenceLossType"/> (TRL's
/// takes sigmoid and ipo) with <see cref="DpoConfig"/>'s options. A step samples two completions of each of
/// per_device_train_batch_size × gradient_accumulation_steps × num_mini_batches / 2 prompts.
/// </summary>
public sealed record OnlineDpoConfig : OnlineConfig
{
    /// <summary>Objective: sigmoid (DPO), robust, ipo, hinge, simpo or orpo.</summary>
    [JsonPropertyName("loss_type"), Description("sigmoid (DPO; cDPO with label_smoothing), robust, ipo, hinge, simpo or orpo.")]
    public PreferenceLossType LossType { get; init; } = PreferenceLossType.Sigmoid;

    /// <summary>β: the strength of the implicit KL regularisation towards the reference.</summary>
    [JsonPropertyName("beta"), Description("beta: KL strength (DPO family), reward scale (SimPO), lambda (ORPO).")]
    public float Beta { get; init; } = 0.1f;

    /// <summary>ε for cDPO, robust DPO and SimPO.</summary>
    [JsonPropertyName("label_smoothing"), Description("Assumed label-flip rate for cDPO / robust DPO / SimPO.")]
    public float LabelSmoothing { get; init; }

    /// <summary>SimPO's γ.</summary>
    [JsonPropertyName("simpo_gamma"), Description("SimPO target reward margin gamma.")]
    public float SimpoGamma { get; init; } = 0.5f;

    /// <summary>RPO's α (0 = off).</summary>
    [JsonPropertyName("rpo_alpha"), Description("Weight of the chosen responses' NLL added to the loss (RPO; 0 = off).")]
    public float RpoAlpha { get; init; }

    /// <summary>Whether the loss needs the frozen reference (all but SimPO and ORPO).</summary>
    public bool NeedsReference => LossType.NeedsReference();

    /// <summary>The options the loss function takes.</summary>
    public PreferenceLossOptions LossOptions => new() { Type = LossType, Beta = Beta, LabelSmoothing = LabelSmoothing, SimpoGamma = SimpoGamma, RpoAlpha = RpoAlpha };

    /// <summary>Two completions per prompt: the pair the judge compares.</summary>
    public override int SamplesPerPrompt => 2;
    /// <summary>One pass: every pair is used once, by the policy that sampled it.</summary>
    public override int UpdateEpochs => 1;
    /// <summary>Unused: the DPO loss has no ratio to clip.</summary>
    public override float ClipLow => 0.2f;
    /// <summary>Unused, as <see cref="ClipLow"/>.</summary>
    public override float ClipHigh => 0.2f;
    /// <summary>β, whose KL regularisation is implicit in the loss; 0 for the reference-free losses.</summary>
    public override float KlCoefficient => NeedsReference ? Beta : 0;
    /// <inheritdoc/>
    public override KlEstimator? KlLoss => null;
    /// <summary>Unused: the loss is a mean over pairs.</summary>
    public override LossAggregation Aggregation => LossAggregation.Bnpo;

    /// <summary>Checks the online-DPO settings too.</summary>
    public override void Validate()
    {
        base.Validate();
        if (Beta <= 0) throw new ArgumentException("beta: must be positive.");
        if (PerDeviceTrainBatchSize % 2 != 0) throw new ArgumentException("per_device_train_batch_size: must be even, so that each micro-batch holds whole pairs.");
        if (AdapKlCtrl || EntCoef != 0) throw new ArgumentException("adap_kl_ctrl/ent_coef: not part of the DPO objective; leave them off.");
    }
}

/// <summary>
/// Online DPO — direct alignment from online AI feedback (OAIF, Guo et al. 2024, Algorithm 1; TRL's OnlineDPOTrainer):
/// each step samples two completions of every prompt from the current policy, a judge says which is better — the
/// reward source's higher score, or an <see cref="IPairwiseJudge"/> such as an annotator — and one DPO step on those
/// pairs moves the policy against the frozen reference. On-policy pairs fix offline DPO's distribution shift: the
/// policy learns from its own samples. Pairs the judge ties are left out (see <see cref="PreferencePairs"/>).
/// Log-probs are taken at temperature 1, as TRL's, whatever temperature sampled. Logs TRL's online-DPO metrics:
/// objective/kl, objective/entropy, objective/scores, objective/scores_margin, objective/non_score_reward,
/// objective/rlhf_reward, rewards/*, logps/*, val/contain_eos_token and beta, plus pairs/tie_fraction.
/// </summary>
public sealed class OnlineDpoTrainer : OnlineTrainer<OnlineDpoConfig>
{
    private readonly IPairwiseJudge? judge;
    // The pairs of the rollout being learned from, by prompt (null: a tie), and each row's Σ log π_ref.
    private PreferencePair?[] pairs = [];
    private float[]? referenceSums;

    /// <summary>
    /// Sets up online DPO. Preferences come from <paramref name="judge"/> when given, else from <paramref name="reward"/>'s
    /// scores (which are logged as objective/scores either way); <paramref name="reference"/> may be null only for
    /// SimPO and ORPO.
    /// </summary>
    public OnlineDpoTrainer(OnlineDpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, ITextEncoder encoder, Func<int[], string> decode,
        IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, Action<string>? writeExtraFiles, IPairwiseJudge? judge = null)
        : base(config, policy, config.NeedsReference ? reference : null, encoder, decode, reward, prompts, writeExtraFiles)
    {
        this.judge = judge;
    }

    /// <inheritdoc/>
    protected override float LogProbTemperature => 1f;

    /// <summary>Shuffles whole pairs, the two rows of a prompt kept adjacent, so that every micro-batch holds complete pairs.</summary>
    protected override int[] UpdateOrder(Rollout rollout) =>
        [.. Permutation.Shuffled(rollout.Rows / 2, Rng.NextUInt64()).SelectMany(p => new[] { 2 * p, 2 * p + 1 })];

    /// <summary>Judges each prompt's two samples and logs what the judgements and scores show; DPO needs no advantages.</summary>
    protected override void ComputeAdvantages(Rollout rollout, Dictionary<string, double> metrics)
    {
        pairs = judge is null
            ? PreferencePairs.BestVersusWorst(rollout.Scores, 2)
            : PreferencePairs.FromJudgements(judge.Judge([.. Enumerable.Range(0, rollout.Rows / 2).Select(p => new PairToJudge(rollout.Requests[2 * p], rollout.Requests[2 * p + 1]))]));
        referenceSums = rollout.ReferenceLogProbs is { } reference ? rollout.SequenceSums(reference) : null;
        double scores = rollout.Scores.Average();
        metrics["objective/scores"] = scores;
        // A tie counts as a margin of 0, as TRL's first-wins pairing of equal scores gives.
        metrics["objective/scores_margin"] = pairs.Average(p => p is { } q ? rollout.Scores[q.Chosen] - rollout.Scores[q.Rejected] : 0.0);
        metrics["val/contain_eos_token"] = rollout.Finished.Count(f => f) / (double)rollout.Rows;
        metrics["pairs/tie_fraction"] = pairs.Count(p => p is null) / (double)pairs.Length;
        metrics["beta"] = Config.Beta;
        if (metrics.TryGetValue("objective/kl", out double kl))
        {
            metrics["objective/non_score_reward"] = -Config.Beta * kl;
            metrics["objective/rlhf_reward"] = scores - Config.Beta * kl;
        }
    }

    /// <summary>
    /// The DPO loss of the micro-batch's decided pairs (one forward of their chosen rows, then their rejected rows), a
    /// mean over those pairs divided by the accumulation steps, as transformers accumulates.
    /// </summary>
    protected override StepOutput Loss(Rollout rollout, int[] rows, MiniBatch miniBatch)
    {
        var decided = Enumerable.Range(0, rows.Length / 2).Select(i => pairs[rows[2 * i] / 2]).OfType<PreferencePair>().ToArray();
        if (decided.Length == 0) return new StepOutput(Tensor.FromArray([0f], 1), new Dictionary<string, double>());
        int[] ordered = [.. decided.Select(p => p.Chosen), .. decided.Select(p => p.Rejected)];
        var (logProbs, _) = rollout.TokenLogProbs(Model, ordered, LogProbTemperature);
        var sums = Ops.Sum(Ops.Reshape(logProbs, ordered.Length, rollout.CompletionLength), 1);
        float[] lengths = [.. ordered.Select(r => (float)rollout.Lengths[r])];
        var input = PreferenceLogProbs.Concatenated(sums, lengths, referenceSums is { } refs ? [.. ordered.Select(r => refs[r])] : null, Config.LossOptions);
        var result = DirectPreferenceLoss.Compute(input, Config.LossOptions);
        return new StepOutput(result.Loss * (1f / miniBatch.AccumulationSteps), DpoTrainer.Metrics(result));
    }
}
