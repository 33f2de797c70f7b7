using Reins.Alignment.Dpo;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Models.Transformers;
using Reins.Rewards.Judges;
using Reins.Tensors;

namespace Reins.Alignment.OnlineDpo;

/// <summary>
/// Settings of online DPO, with TRL's OnlineDPOConfig names; the loss takes every <see cref="PreferenceLossType"/> (TRL's
/// takes sigmoid and ipo) with offline DPO's options. A step samples two completions of each of
/// per_device_train_batch_size × gradient_accumulation_steps × num_mini_batches / 2 prompts.
/// </summary>
[RetiredSetting("ent_coef", "0", "the DPO objective has no entropy bonus, and its KL strength is beta")]
[RetiredSetting("adap_kl_ctrl", "false", "the DPO objective has no entropy bonus, and its KL strength is beta")]
[RetiredSetting("target", "6", "the DPO objective has no entropy bonus, and its KL strength is beta")]
[RetiredSetting("horizon", "10000", "the DPO objective has no entropy bonus, and its KL strength is beta")]
public sealed record OnlineDpoConfig : IOnlineConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public OnlineArguments Online { get; init; } = new();

    /// <summary>The preference objective and its β.</summary>
    public PreferenceLossOptions Loss { get; init; } = new();

    /// <summary>Checks every online-DPO setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Online.Validate();
        Online.ValidateGroups(Training, 2);
        Loss.Validate();
        Settings.Require(Training.PerDeviceTrainBatchSize % 2 == 0, "per_device_train_batch_size", "must be even, so that each micro-batch holds whole pairs");
    }
}

/// <summary>Online DPO's batch: each prompt's pair as the judge decided it (null: a tie), and each row's Σ log π_ref.</summary>
/// <param name="Evaluated">The evaluated rollout (rows 2p and 2p + 1 are prompt p's samples).</param>
/// <param name="Pairs">Prompt p's pair, or null where the judge tied.</param>
/// <param name="ReferenceSums">[Rows] each row's summed reference log-probs, or null for the reference-free losses.</param>
public sealed record JudgedPairs(EvaluatedRollout Evaluated, PreferencePair?[] Pairs, float[]? ReferenceSums) : IRolloutBatch
{
    /// <inheritdoc/>
    public float[] LossMask => Evaluated.Rollout.CompletionMask;
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
public sealed class OnlineDpoTrainer : OnlineTrainer<JudgedPairs>
{
    private readonly OnlineDpoConfig config;
    private readonly IPairwiseJudge? judge;

    /// <summary>
    /// Sets up online DPO. Preferences come from <paramref name="judge"/> when given, else from the reward's
    /// scores (which are logged as objective/scores either way); <paramref name="reference"/> may be null only for
    /// SimPO and ORPO.
    /// </summary>
    public OnlineDpoTrainer(OnlineDpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, OnlineInputs inputs, IPairwiseJudge? judge = null)
        : base(config, Plan(config), policy, config.Loss.Type.NeedsReference() ? reference : null, inputs)
    {
        this.config = config;
        this.judge = judge;
    }

    // Two samples per prompt, used once by the policy that sampled them, shuffled as whole pairs; β's regularisation is
    // implicit in the loss (the coefficient only names it for objective/kl_coef), and log-probs are at temperature 1.
    private static RolloutPlan Plan(OnlineDpoConfig config) =>
        new(SamplesPerPrompt: 2, UpdateEpochs: 1, new FixedKlController(config.Loss.Type.NeedsReference() ? config.Loss.Beta : 0))
        {
            LogProbTemperature = 1f, ShuffleUnit = 2,
        };

    /// <summary>Judges each prompt's two samples and logs what the judgements and scores show; DPO needs no advantages.</summary>
    protected override JudgedPairs Advantages(EvaluatedRollout evaluated, Dictionary<string, double> metrics)
    {
        var rollout = evaluated.Rollout;
        var scores = evaluated.Scores;
        var requests = evaluated.Scored.Requests;
        var pairs = judge is null
            ? PreferencePairs.BestVersusWorst(scores, 2)
            : PreferencePairs.FromJudgements(judge.Judge([.. Enumerable.Range(0, rollout.Rows / 2).Select(p => new PairToJudge(requests[2 * p], requests[2 * p + 1]))]));
        var referenceSums = evaluated.ReferenceLogProbs is { } reference ? rollout.SequenceSums(reference) : null;
        double mean = scores.Average();
        float beta = config.Loss.Beta;
        metrics["objective/scores"] = mean;
        // A tie counts as a margin of 0, as TRL's first-wins pairing of equal scores gives.
        metrics["objective/scores_margin"] = pairs.Average(p => p is { } q ? scores[q.Chosen] - scores[q.Rejected] : 0.0);
        metrics["val/contain_eos_token"] = rollout.Finished.Count(f => f) / (double)rollout.Rows;
        metrics["pairs/tie_fraction"] = pairs.Count(p => p is null) / (double)pairs.Length;
        metrics["beta"] = beta;
        if (metrics.TryGetValue("objective/kl", out double kl))
        {
            metrics["objective/non_score_reward"] = -beta * kl;
            metrics["objective/rlhf_reward"] = mean - beta * kl;
        }
        return new JudgedPairs(evaluated, pairs, referenceSums);
    }

    /// <summary>
    /// The DPO loss of the micro-batch's decided pairs (one forward of their chosen rows, then their rejected rows), a
    /// mean over those pairs divided by the accumulation steps, as transformers accumulates.
    /// </summary>
    protected override StepOutput Loss(JudgedPairs batch, int[] rows, MiniBatch miniBatch)
    {
        var decided = Enumerable.Range(0, rows.Length / 2).Select(i => batch.Pairs[rows[2 * i] / 2]).OfType<PreferencePair>().ToArray();
        if (decided.Length == 0) return new StepOutput(Tensor.FromArray([0f], 1), new Dictionary<string, double>());
        var rollout = batch.Evaluated.Rollout;
        int[] ordered = [.. decided.Select(p => p.Chosen), .. decided.Select(p => p.Rejected)];
        var (logProbs, _) = rollout.TokenLogProbs(Model, ordered, temperature: 1f);
        var sums = Ops.Sum(Ops.Reshape(logProbs, ordered.Length, rollout.CompletionLength), 1);
        float[] lengths = [.. ordered.Select(r => (float)rollout.Lengths[r])];
        var input = PreferenceLogProbs.Concatenated(sums, lengths, batch.ReferenceSums is { } refs ? [.. ordered.Select(r => refs[r])] : null, config.Loss);
        var result = DirectPreferenceLoss.Compute(input, config.Loss);
        return new StepOutput(result.Loss * (1f / miniBatch.AccumulationSteps), DpoTrainer.Metrics(result));
    }
}
