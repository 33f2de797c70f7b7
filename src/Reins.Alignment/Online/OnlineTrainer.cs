using System.Diagnostics;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Sampling;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors;
using Reins.Tensors.Optim;

namespace Reins.Alignment.Online;

/// <summary>
/// The loop every online method shares. A step: take the next prompts, sample G completions each with the policy
/// (KV cache, per-token log-probs), score the same tokens with the frozen reference, score the completions with the
/// reward source, let the algorithm turn scores into per-token advantages, then make its passes over the rollout in
/// shuffled mini-batches of clipped-surrogate updates. Around it: the learning-rate schedule, metrics.jsonl every
/// logging_steps, checkpoint-N every save_steps, exact resume (weights, optimiser, RNG, prompt position, KL
/// coefficient) and a checkpoint on cancellation. Subclasses say how scores become advantages, and PPO adds a critic.
/// </summary>
public abstract class OnlineTrainer<TConfig> : ITrainer where TConfig : OnlineConfig
{
    /// <summary>The resolved settings.</summary>
    public TConfig Config { get; }
    /// <summary>The policy being trained.</summary>
    public CausalLanguageModel Model { get; }
    /// <summary>The run's output directory.</summary>
    public RunDirectory Run { get; }
    /// <summary>What tokenisation reported about the prompts.</summary>
    public TokenizationReport Report { get; }
    /// <summary>The frozen reference policy π_ref, or null when nothing needs it.</summary>
    protected CausalLanguageModel? Reference { get; }
    /// <summary>β, fixed or adaptive.</summary>
    protected KlController Kl { get; }
    /// <summary>Draws sampling seeds and mini-batch orders; saved with checkpoints.</summary>
    protected Rng Rng { get; }
    /// <summary>Steps completed (rollouts collected and learned from).</summary>
    protected long GlobalStep { get; private set; }

    private readonly CompletionSampler completions;
    private readonly IReadOnlyList<TokenizedPrompt> prompts;
    private readonly AdamW policyOptimizer;
    private readonly Action<string>? writeExtraFiles;
    private readonly Dictionary<string, double> phaseSeconds = [];
    private long episode;

    /// <summary>
    /// Tokenises the prompts and sets up the policy optimiser. <paramref name="decode"/> turns completion ids into text
    /// for the reward source; <paramref name="writeExtraFiles"/> saves the tokenizer beside each checkpoint.
    /// </summary>
    protected OnlineTrainer(TConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, ITextEncoder encoder, Func<int[], string> decode,
        IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, Action<string>? writeExtraFiles)
    {
        config.Validate();
        string method = GetType().Name;
        if (reference is null && (config.KlCoefficient > 0 || config.AdapKlCtrl))
            throw new ArgumentException($"{method}: a KL coefficient above 0 needs a reference model.");
        (Config, Model, Reference, this.writeExtraFiles) = (config, policy, reference, writeExtraFiles);
        Reference?.SetTrainable(false);
        completions = new CompletionSampler(encoder, decode, reward, config.MaxPromptLength);
        this.prompts = completions.Tokenize(prompts);
        Report = completions.Report;
        if (this.prompts.Count < config.PromptsPerStep)
            throw new InvalidDataException($"{method}: {this.prompts.Count} usable prompts, fewer than the {config.PromptsPerStep} one step samples from.");
        int longest = this.prompts.Max(p => p.InputIds.Length);
        if (longest + config.MaxCompletionLength > policy.Config.MaxPositions)
            throw new ArgumentException($"{method}: prompts of up to {longest} tokens (max_prompt_length {config.MaxPromptLength}) plus max_completion_length {config.MaxCompletionLength} exceed the model's {policy.Config.MaxPositions} positions.");
        Run = new RunDirectory(config.OutputDir);
        Rng = new Rng(config.Seed ^ 0x5DEECE66DUL);
        Kl = config.AdapKlCtrl ? new AdaptiveKlController(config.KlCoefficient, config.Target, config.Horizon) : new FixedKlController(config.KlCoefficient);
        policyOptimizer = NewOptimizer(policy);
    }

    /// <summary>AdamW with the run's settings over a model's trainable parameters; no decay on biases and norm weights, as transformers.</summary>
    protected AdamW NewOptimizer(CausalLanguageModel model) =>
        new(model.TrainableParameters, Config.LearningRate, Config.AdamBeta1, Config.AdamBeta2, Config.AdamEpsilon, Config.WeightDecay) { DecayFilter = p => p.Rank >= 2 };

    /// <summary>
    /// Seconds spent so far in each phase of the steps: generation, reward, reference, evaluation (PPO's critic values),
    /// advantages, update. For `reins bench ppo`; never logged, so metrics.jsonl stays reproducible.
    /// </summary>
    public IReadOnlyDictionary<string, double> PhaseSeconds => phaseSeconds;

    private T Timed<T>(string phase, Func<T> body)
    {
        long start = Stopwatch.GetTimestamp();
        var result = body();
        phaseSeconds[phase] = phaseSeconds.GetValueOrDefault(phase) + Stopwatch.GetElapsedTime(start).TotalSeconds;
        return result;
    }

    private void Timed(string phase, Action body) => Timed(phase, () => { body(); return 0; });

    /// <summary>
    /// The temperature of the log-probs that the losses, the reference and the logged KL and entropy use: the sampling
    /// temperature, so that the PPO family's ratio compares the distribution actually sampled from. DPO overrides it
    /// with 1: its objective is about π itself, whatever temperature explored it.
    /// </summary>
    protected virtual float LogProbTemperature => Config.Temperature;

    /// <summary>Fills <see cref="Rollout.Advantages"/> (and whatever else the algorithm needs) from the scored rollout, adding its metrics.</summary>
    protected abstract void ComputeAdvantages(Rollout rollout, Dictionary<string, double> metrics);

    /// <summary>Runs max_steps steps (or num_train_epochs passes over the prompts), resuming from the latest checkpoint when <paramref name="resume"/> is set.</summary>
    public TrainResult Train(bool resume = false, CancellationToken cancellation = default, IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>? progress = null)
    {
        long total = Config.MaxSteps > 0 ? Config.MaxSteps : (long)Math.Ceiling(Config.NumTrainEpochs * prompts.Count / Config.PromptsPerStep);
        // One schedule of peak 1 scales every optimiser's own peak learning rate (PPO's critic has its own).
        var schedule = new LearningRateSchedule(LearningRateSchedule.ParseKind(Config.LrSchedulerType), 1f, (long)(Config.WarmupRatio * total), total);
        var sampler = new DataSampler(prompts.Count, Config.Seed, shuffle: true);
        Run.WriteConfig(ConfigBinder.ToJson(Config), Model.Config);
        if (resume && Run.Checkpoints() is { Count: > 0 } checkpoints)
        {
            Restore(checkpoints[^1].Path, sampler);
            Run.TruncateMetricsAfter(GlobalStep);
        }

        var window = new MetricsWindow();
        IReadOnlyDictionary<string, double> last = new Dictionary<string, double>();
        while (GlobalStep < total)
        {
            if (cancellation.IsCancellationRequested)
            {
                SaveCheckpoint(sampler, total);
                return new TrainResult(GlobalStep, Interrupted: true, last);
            }
            var metrics = new Dictionary<string, double>();
            // dropLast keeps every rollout the same size, so groups and mini-batches always divide it.
            var rollout = CollectRollout(sampler.NextBatch(Config.PromptsPerStep, dropLast: true), metrics);
            Timed("advantages", () => ComputeAdvantages(rollout, metrics));
            Timed("update", () => Optimize(rollout, schedule.At(GlobalStep), metrics));
            if (metrics.TryGetValue("objective/kl", out double kl)) Kl.Update(kl, rollout.Rows);
            episode += rollout.Rows;
            GlobalStep++;
            window.Add(metrics);

            if (GlobalStep % Config.LoggingSteps == 0 || GlobalStep == total)
            {
                var row = window.Flush();
                row["episode"] = episode;
                row["epoch"] = (double)GlobalStep * Config.PromptsPerStep / prompts.Count;
                Run.AppendMetrics(GlobalStep, row);
                last = row;
            }
            if (Config.SaveSteps > 0 && GlobalStep % Config.SaveSteps == 0 && GlobalStep < total) SaveCheckpoint(sampler, total);
            progress?.Report((GlobalStep, total, last));
        }
        Run.SaveFinalModel(Model, writeExtraFiles);
        SaveFinalExtras();
        return new TrainResult(GlobalStep, Interrupted: false, last);
    }

    /// <summary>
    /// Samples and scores G completions of each prompt (stopping at EOS or max_completion_length), then adds the
    /// reference log-probs and the algorithm's own evaluations (<see cref="EvaluateRollout"/>), logging what they show.
    /// </summary>
    private Rollout CollectRollout(int[] promptIndices, Dictionary<string, double> metrics)
    {
        var options = new SamplingOptions
        {
            MaxNewTokens = Config.MaxCompletionLength, Temperature = Config.Temperature, TopK = Config.TopK, TopP = Config.TopP,
            NumReturnSequences = Config.SamplesPerPrompt, Seed = Rng.NextUInt64(),
        };
        var batch = promptIndices.Select(i => prompts[i]).ToArray();
        var samples = Timed("generation", () => completions.Generate(Model, batch, options));
        var scored = Timed("reward", () => completions.Score(batch, samples, Config.MissingEosPenalty));
        var rollout = Rollout.FromSamples(scored.Samples, Config.SamplesPerPrompt, completions.PadId);
        (rollout.Scores, rollout.RewardComponents, rollout.Requests) = (scored.Scores, scored.Components, scored.Requests);
        // The generator's log-probs are at the sampling temperature; a method that scores at another re-scores them.
        if (LogProbTemperature != Config.Temperature)
            Timed("evaluation", () => rollout.Evaluate(rows => rollout.TokenLogProbs(Model, rows, LogProbTemperature).LogProbs, Config.PerDeviceTrainBatchSize).CopyTo(rollout.LogProbs, 0));
        if (Reference is { } reference)
            rollout.ReferenceLogProbs = Timed("reference", () => rollout.Evaluate(rows => rollout.TokenLogProbs(reference, rows, LogProbTemperature).LogProbs, Config.PerDeviceTrainBatchSize));
        Timed("evaluation", () => EvaluateRollout(rollout));
        Describe(rollout, metrics);
        return rollout;
    }

    /// <summary>Adds the per-rollout evaluations an algorithm needs before its advantages (PPO: the critic's values).</summary>
    protected virtual void EvaluateRollout(Rollout rollout) { }

    // What the rollout itself shows, in TRL's metric names.
    private void Describe(Rollout rollout, Dictionary<string, double> metrics)
    {
        var allRows = new float[rollout.Rows];
        Array.Fill(allRows, 1f);
        metrics["reward"] = MaskedStatistics.Mean(rollout.Scores, allRows);
        metrics["reward_std"] = Math.Sqrt(MaskedStatistics.Variance(rollout.Scores, allRows, unbiased: true));
        foreach (var c in rollout.RewardComponents)
        {
            // A source answers NaN where it does not apply; its mean is over the completions it scored.
            var applies = c.Scores.Select(s => float.IsNaN(s) ? 0f : 1f).ToArray();
            var values = c.Scores.Select(s => float.IsNaN(s) ? 0f : s).ToArray();
            metrics[$"rewards/{c.Name}/mean"] = applies.Contains(1f) ? MaskedStatistics.Mean(values, applies) : double.NaN;
            metrics[$"rewards/{c.Name}/std"] = applies.Contains(1f) ? Math.Sqrt(MaskedStatistics.Variance(values, applies, unbiased: true)) : double.NaN;
        }
        metrics["completions/mean_length"] = rollout.Lengths.Average();
        metrics["completions/min_length"] = rollout.Lengths.Min();
        metrics["completions/max_length"] = rollout.Lengths.Max();
        metrics["completions/clipped_ratio"] = rollout.Finished.Count(f => !f) / (double)rollout.Rows;
        metrics["val/num_eos_tokens"] = rollout.Finished.Count(f => f);
        // TRL's objective/entropy: the sampled sequences' −log π summed over tokens, averaged over sequences.
        metrics["objective/entropy"] = -rollout.LogProbs.Sum() / rollout.Rows;
        if (rollout.ReferenceLogProbs is not null)
        {
            // objective/kl: Σ_t k1 per sequence, averaged over sequences — an unbiased estimate of KL(π‖π_ref) per completion.
            metrics["objective/kl"] = rollout.SequenceSums(rollout.TokenKl(KlEstimator.K1)).Average();
            metrics["objective/kl_coef"] = Kl.Value;
        }
    }

    /// <summary>
    /// The update: <see cref="OnlineConfig.UpdateEpochs"/> passes over the rollout in <see cref="OnlineConfig.NumMiniBatches"/>
    /// shuffled mini-batches, each one optimiser step over gradient_accumulation_steps micro-batches, with the global
    /// gradient norm of each model clipped to max_grad_norm. Metrics are means over all micro-batches.
    /// </summary>
    private void Optimize(Rollout rollout, float learningRateFactor, Dictionary<string, double> metrics)
    {
        var optimizers = Optimizers().ToList();
        foreach (var (_, optimizer, peak) in optimizers) optimizer.LearningRate = peak * learningRateFactor;
        metrics["lr"] = Config.LearningRate * learningRateFactor;
        int micro = Config.PerDeviceTrainBatchSize, accumulation = Config.GradientAccumulationSteps, mini = micro * accumulation;
        var all = new MetricsWindow();
        bool stopped = false;
        for (int epoch = 0; epoch < Config.UpdateEpochs && !stopped; epoch++)
        {
            var order = UpdateOrder(rollout);
            for (int m = 0; m < Config.NumMiniBatches && !stopped; m++)
            {
                var miniRows = order[(m * mini)..((m + 1) * mini)];
                var shape = new MiniBatch(mini, rollout.Gather(rollout.LossMask, miniRows).Sum(x => (double)x), accumulation, Config.MaxCompletionLength);
                foreach (var (_, optimizer, _) in optimizers) optimizer.ZeroGrad();
                var window = new MetricsWindow();
                for (int a = 0; a < accumulation; a++)
                {
                    using var tape = new Tape();
                    var output = Loss(rollout, miniRows[(a * micro)..((a + 1) * micro)], shape);
                    // A micro-batch with nothing to learn from (online DPO's tied pairs only) has a constant loss and no backward.
                    if (output.Loss.RequiresGrad) tape.Backward(output.Loss);
                    window.Add(output.Metrics);
                    // A micro-batch's share times the accumulation steps is its own loss; their mean is the mini-batch's.
                    window.Add(new Dictionary<string, double> { ["loss"] = output.Loss.Item() * accumulation });
                }
                foreach (var (gradNormMetric, optimizer, _) in optimizers)
                {
                    window.Add(new Dictionary<string, double> { [gradNormMetric] = optimizer.ClipGradNorm(Config.MaxGradNorm > 0 ? Config.MaxGradNorm : float.PositiveInfinity) });
                    optimizer.Step();
                }
                var means = window.Flush();
                all.Add(means);
                stopped = StopUpdates(means);
            }
        }
        foreach (var (k, v) in all.Flush()) metrics[k] = v;
    }

    /// <summary>The rows of one pass over the rollout, in the order they are cut into mini- and micro-batches: a fresh shuffle each pass.</summary>
    protected virtual int[] UpdateOrder(Rollout rollout) => Permutation.Shuffled(rollout.Rows, Rng.NextUInt64());

    /// <summary>The optimisers stepped after each mini-batch, with the metric their gradient norm is logged under and their peak learning rate.</summary>
    protected virtual IEnumerable<(string GradNormMetric, AdamW Optimizer, float PeakLearningRate)> Optimizers()
    {
        yield return ("grad_norm", policyOptimizer, Config.LearningRate);
    }

    /// <summary>Whether to skip the rest of this rollout's updates after a mini-batch with these metrics (PPO's KL early stop).</summary>
    protected virtual bool StopUpdates(IReadOnlyDictionary<string, double> miniBatchMetrics) => false;

    /// <summary>
    /// One micro-batch's share of the mini-batch loss: the clipped surrogate on the policy's fresh log-probs, plus
    /// β·KL when the algorithm puts the KL in the loss, minus ent_coef·entropy, aggregated as the config says.
    /// </summary>
    protected virtual StepOutput Loss(Rollout rollout, int[] rows, MiniBatch miniBatch)
    {
        var (logProbs, logits) = rollout.TokenLogProbs(Model, rows, LogProbTemperature);
        var mask = rollout.Gather(rollout.LossMask, rows);
        var (surrogate, s) = ClippedSurrogate.Compute(logProbs, rollout.Gather(rollout.LogProbs, rows), rollout.Gather(rollout.Advantages, rows), Config.ClipLow, Config.ClipHigh, mask);
        var metrics = new Dictionary<string, double>
        {
            ["loss/policy_avg"] = s.LossMean, ["policy/approxkl_avg"] = s.ApproxKl, ["policy/clipfrac_avg"] = s.ClipFraction,
            ["clip_ratio/low_mean"] = s.LowClipFraction, ["clip_ratio/high_mean"] = s.HighClipFraction,
            ["val/ratio"] = s.RatioMean, ["val/ratio_var"] = s.RatioVariance,
        };
        var perToken = surrogate;
        if (Config.KlLoss is { } estimator && Kl.Value > 0)
        {
            var kl = KlPenalty.Loss(estimator, logProbs, rollout.Gather(rollout.ReferenceLogProbs!, rows));
            metrics["kl"] = MaskedStatistics.Mean(kl.Span, mask);
            perToken = perToken + Kl.Value * kl;
        }
        // Entropy of softmax(logits / T), the distribution sampled from; it carries a gradient only when it is a bonus.
        Tensor entropy;
        using (Config.EntCoef > 0 ? null : Tape.NoGrad()) entropy = Ops.Entropy(logits * (1f / LogProbTemperature));
        metrics["policy/entropy_avg"] = MaskedStatistics.Mean(entropy.Span, mask);
        if (Config.EntCoef > 0) perToken = perToken - Config.EntCoef * entropy;
        var weights = TokenLossWeights.Of(Config.Aggregation, mask, rows.Length, rollout.CompletionLength, miniBatch);
        return new StepOutput(Ops.Sum(perToken * Tensor.FromArray(weights, weights.Length)), metrics);
    }

    /// <summary>Writes checkpoint-N: policy, tokenizer, optimiser and RNG, prompt position, KL coefficient and episode, and <see cref="SaveExtras"/>.</summary>
    private void SaveCheckpoint(DataSampler sampler, long total)
    {
        HfCheckpoint.Save(Model, Run.CheckpointPath(GlobalStep), dir =>
        {
            writeExtraFiles?.Invoke(dir);
            OptimizerState.Save(Path.Combine(dir, OptimizerState.FileName), policyOptimizer, Rng);
            sampler.Cursor.Save(Path.Combine(dir, DataCursor.FileName));
            new OnlineState(Kl.Value, episode).Save(dir);
            SaveExtras(dir);
            new TrainerState(GlobalStep, (double)GlobalStep * Config.PromptsPerStep / prompts.Count, total).Save(dir);
        });
        Run.PruneCheckpoints(Config.SaveTotalLimit);
    }

    private void Restore(string path, DataSampler sampler)
    {
        Model.CopyParametersFrom(HfCheckpoint.Load(path));
        OptimizerState.Load(Path.Combine(path, OptimizerState.FileName), policyOptimizer, Rng);
        sampler.Restore(DataCursor.Load(Path.Combine(path, DataCursor.FileName)));
        var state = OnlineState.Load(path);
        (Kl.Value, episode) = (state.KlCoefficient, state.Episode);
        RestoreExtras(path);
        GlobalStep = TrainerState.Load(path).GlobalStep;
    }

    /// <summary>Writes an algorithm's own state into a checkpoint directory being assembled (PPO: the critic and its optimiser).</summary>
    protected virtual void SaveExtras(string directory) { }

    /// <summary>Restores what <see cref="SaveExtras"/> wrote.</summary>
    protected virtual void RestoreExtras(string directory) { }

    /// <summary>Saves an algorithm's final extra models beside the policy (PPO: the critic).</summary>
    protected virtual void SaveFinalExtras() { }

    /// <summary>Saves the tokenizer files into <paramref name="directory"/>, if the run has a tokenizer.</summary>
    protected void WriteExtraFiles(string directory) => writeExtraFiles?.Invoke(directory);
}
