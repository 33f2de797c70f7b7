using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.BestOfN;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Alignment.ExpertIteration;

/// <summary>Settings of expert iteration (rejection-sampling fine-tuning).</summary>
public sealed record ExpertIterationConfig : OnlineConfig
{
    /// <summary>n, completions sampled per prompt.</summary>
    [JsonPropertyName("num_generations"), Description("Completions sampled per prompt (n).")]
    public int NumGenerations { get; init; } = 4;

    /// <summary>The best k of each prompt's n are learned from.</summary>
    [JsonPropertyName("keep_top"), Description("Completions kept per prompt: the k with the highest reward.")]
    public int KeepTop { get; init; } = 1;

    /// <summary>Of those, only completions scoring at least this are learned from (null = all k).</summary>
    [JsonPropertyName("reward_threshold"), Description("Keep only completions whose reward reaches this (null = keep the top k regardless).")]
    public float? RewardThreshold { get; init; }

    /// <summary>Passes over each step's kept completions.</summary>
    [JsonPropertyName("num_iterations"), Description("Supervised passes over each step's kept completions.")]
    public int NumIterations { get; init; } = 1;

    /// <inheritdoc/>
    public override int SamplesPerPrompt => NumGenerations;
    /// <inheritdoc/>
    public override int UpdateEpochs => NumIterations;
    /// <summary>Unused: the loss is the likelihood of the kept completions, with no ratio to clip.</summary>
    public override float ClipLow => 0.2f;
    /// <summary>Unused, as <see cref="ClipLow"/>.</summary>
    public override float ClipHigh => 0.2f;
    /// <inheritdoc/>
    public override float KlCoefficient => 0;
    /// <inheritdoc/>
    public override KlEstimator? KlLoss => null;
    /// <inheritdoc/>
    public override LossAggregation Aggregation => LossAggregation.Bnpo;

    /// <summary>Checks the expert-iteration settings too.</summary>
    public override void Validate()
    {
        if (KeepTop < 1 || KeepTop > NumGenerations) throw new ArgumentException($"keep_top: must be between 1 and num_generations ({NumGenerations}).");
        base.Validate();
    }
}

/// <summary>
/// Expert iteration in its online form — RAFT (Dong et al. 2023), ReST's improve step (Gulcehre et al. 2023), the
/// "EI" of Havrilla et al. 2024: each step samples n completions per prompt, keeps the best k (and only those above
/// reward_threshold), and takes supervised steps on them: the token-mean negative log-likelihood at temperature 1,
/// no ratio, no KL. The others are masked out of the loss. Logs kept/fraction and kept/reward_mean.
/// </summary>
public sealed class ExpertIterationTrainer(ExpertIterationConfig config, CausalLanguageModel policy, ITextEncoder encoder, Func<int[], string> decode,
    IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, Action<string>? writeExtraFiles)
    : OnlineTrainer<ExpertIterationConfig>(config, policy, null, encoder, decode, reward, prompts, writeExtraFiles)
{
    /// <inheritdoc/>
    protected override void ComputeAdvantages(Rollout rollout, Dictionary<string, double> metrics)
    {
        int n = Config.NumGenerations, width = rollout.CompletionLength;
        var keep = new bool[rollout.Rows];
        for (int p = 0; p < rollout.Rows / n; p++)
            foreach (int i in BestOfNSampler.Top(rollout.Scores.AsSpan(p * n, n), Config.KeepTop))
                keep[p * n + i] = Config.RewardThreshold is not { } threshold || rollout.Scores[p * n + i] >= threshold;
        for (int r = 0; r < rollout.Rows; r++)
            if (!keep[r]) rollout.LossMask.AsSpan(r * width, width).Clear();
        int kept = keep.Count(k => k);
        metrics["kept/fraction"] = (double)kept / rollout.Rows;
        metrics["kept/reward_mean"] = kept == 0 ? double.NaN : rollout.Scores.Where((_, r) => keep[r]).Average();
        rollout.Advantages = new float[rollout.Rows * width];
    }

    /// <summary>−log π of the kept completions' tokens, a token mean over the micro-batch (supervised fine-tuning on them).</summary>
    protected override StepOutput Loss(Rollout rollout, int[] rows, MiniBatch miniBatch)
    {
        var (logProbs, _) = rollout.TokenLogProbs(Model, rows, temperature: 1f);
        var mask = rollout.Gather(rollout.LossMask, rows);
        var weights = TokenLossWeights.Of(Config.Aggregation, mask, rows.Length, rollout.CompletionLength, miniBatch);
        var metrics = new Dictionary<string, double> { ["loss/nll_avg"] = -MaskedStatistics.Mean(logProbs.Span, mask) };
        return new StepOutput(-Ops.Sum(logProbs * Tensor.FromArray(weights, weights.Length)), metrics);
    }
}
