using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.BestOfN;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.ExpertIteration;

/// <summary>Settings of expert iteration (rejection-sampling fine-tuning).</summary>
[RetiredSetting("ent_coef", "0", "expert iteration imitates its best samples: it has no entropy bonus and no KL term")]
[RetiredSetting("adap_kl_ctrl", "false", "expert iteration imitates its best samples: it has no entropy bonus and no KL term")]
[RetiredSetting("target", "6", "expert iteration imitates its best samples: it has no entropy bonus and no KL term")]
[RetiredSetting("horizon", "10000", "expert iteration imitates its best samples: it has no entropy bonus and no KL term")]
public sealed record ExpertIterationConfig : IOnlineConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public OnlineArguments Online { get; init; } = new();

    /// <summary>n completions per prompt, and the supervised passes over each step's kept ones.</summary>
    public GroupSettings Group { get; init; } = new();

    /// <summary>The best k of each prompt's n are learned from.</summary>
    [JsonPropertyName("keep_top"), Description("Completions kept per prompt: the k with the highest reward.")]
    public int KeepTop { get; init; } = 1;

    /// <summary>Of those, only completions scoring at least this are learned from (null = all k).</summary>
    [JsonPropertyName("reward_threshold"), Description("Keep only completions whose reward reaches this (null = keep the top k regardless).")]
    public float? RewardThreshold { get; init; }

    /// <summary>Checks every expert-iteration setting.</summary>
    public void Validate()
    {
        Settings.Require(KeepTop >= 1 && KeepTop <= Group.NumGenerations, "keep_top", $"must be between 1 and num_generations ({Group.NumGenerations})");
        Training.Validate();
        Online.Validate();
        Online.ValidateGroups(Training, Group.NumGenerations);
        Group.Validate();
    }
}

/// <summary>Expert iteration's batch: the kept completions are the tokens its loss counts.</summary>
/// <param name="Evaluated">The evaluated rollout.</param>
/// <param name="LossMask">The completion mask on kept rows, 0 elsewhere.</param>
public sealed record ImitationBatch(EvaluatedRollout Evaluated, float[] LossMask) : IRolloutBatch;

/// <summary>
/// Expert iteration in its online form — RAFT (Dong et al. 2023), ReST's improve step (Gulcehre et al. 2023), the
/// "EI" of Havrilla et al. 2024: each step samples n completions per prompt, keeps the best k (and only those above
/// reward_threshold), and takes supervised steps on them: the token-mean negative log-likelihood at temperature 1,
/// no ratio, no KL. The others are masked out of the loss. Logs kept/fraction and kept/reward_mean.
/// </summary>
public sealed class ExpertIterationTrainer(ExpertIterationConfig config, CausalLanguageModel policy, OnlineInputs inputs)
    : OnlineTrainer<ImitationBatch>(config, new RolloutPlan(config.Group.NumGenerations, config.Group.NumIterations, new FixedKlController(0)),
        policy, reference: null, inputs)
{
    /// <summary>The best k of each prompt's n by reward (earlier samples first among equals), above the threshold if one is set.</summary>
    protected override ImitationBatch Advantages(EvaluatedRollout evaluated, Dictionary<string, double> metrics)
    {
        var rollout = evaluated.Rollout;
        var scores = evaluated.Scores;
        int n = config.Group.NumGenerations;
        var keep = new bool[rollout.Rows];
        for (int p = 0; p < rollout.Rows / n; p++)
            foreach (int i in BestOfNSampler.Top(scores.AsSpan(p * n, n), config.KeepTop))
                keep[p * n + i] = config.RewardThreshold is not { } threshold || scores[p * n + i] >= threshold;
        int kept = keep.Count(k => k);
        metrics["kept/fraction"] = (double)kept / rollout.Rows;
        metrics["kept/reward_mean"] = kept == 0 ? double.NaN : scores.Where((_, r) => keep[r]).Average();
        return new ImitationBatch(evaluated, rollout.MaskWhere(r => keep[r]));
    }

    /// <summary>−log π of the kept completions' tokens at temperature 1, a token mean over the micro-batch (supervised fine-tuning on them).</summary>
    protected override StepOutput Loss(ImitationBatch batch, int[] rows, MiniBatch miniBatch)
    {
        var rollout = batch.Evaluated.Rollout;
        var (logProbs, _) = rollout.TokenLogProbs(Model, rows, temperature: 1f);
        var mask = rollout.Gather(batch.LossMask, rows);
        var weights = TokenLossWeights.Of(LossAggregation.Bnpo, mask, rows.Length, rollout.CompletionLength, miniBatch);
        var metrics = new Dictionary<string, double> { ["loss/nll_avg"] = -MaskedStatistics.Mean(logProbs.Span, mask) };
        return new StepOutput(-Ops.Sum(logProbs * Tensor.FromArray(weights, weights.Length)), metrics);
    }
}
