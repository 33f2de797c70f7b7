using System.Diagnostics;
using System.Text.Json.Serialization;
using Reins.Alignment.Objectives;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Sampling;
using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors;
using Reins.Tensors.Distributed;
using Reins.Tensors.Optim;

namespace Reins.Alignment.Online;

/// <summary>
/// What an online method declares about its steps, once: what the rollout needs and how the update runs.
/// </summary>
/// <param name="SamplesPerPrompt">Completions sampled per prompt (G).</param>
/// <param name="UpdateEpochs">Passes over each rollout (PPO epochs, GRPO's μ).</param>
/// <param name="Kl">The KL coefficient β, fixed or adaptive; a reference model is required when it can be above 0.</param>
public sealed record RolloutPlan(int SamplesPerPrompt, int UpdateEpochs, KlController Kl)
{
    /// <summary>
    /// Temperature of the log-probs that the loss, the reference and the logged KL and entropy use; null = the sampling
    /// temperature, so the PPO family's ratio compares the distribution actually sampled from. DPO's objective is about π
    /// itself, so online DPO asks for 1 whatever temperature explored.
    /// </summary>
    public float? LogProbTemperature { get; init; }

    /// <summary>
    /// Critics trained beside the policy, whose values of the rollout's tokens the advantages read: PPO's value model,
    /// and Safe RLHF's cost critic after it.
    /// </summary>
    public IReadOnlyList<TrainableModel> Critics { get; init; } = [];

    /// <summary>Steps at the start during which the policy is not updated, only the critic (OpenRLHF's freezing_actor_steps).</summary>
    public long PolicyFrozenSteps { get; init; }

    /// <summary>End a rollout's updates once a mini-batch's policy/approxkl_avg passes 1.5 × this (the older TRL's early stopping; null = never).</summary>
    public float? TargetKl { get; init; }

    /// <summary>Rows kept together, in order, when a pass shuffles the rollout (2 keeps online DPO's pairs whole).</summary>
    public int ShuffleUnit { get; init; } = 1;

    /// <summary>
    /// Whether the method learns from token rewards, so a reward source that scores steps (a process reward model) gives
    /// each step's reward at the token ending it (<see cref="ScoredRollout.StepRewards"/>) rather than one score at the end.
    /// </summary>
    public bool StepRewards { get; init; }

    /// <summary>A stage that replaces some samples after scoring (Critique-GRPO's refinements), or null.</summary>
    public IRolloutRefinement? Refinement { get; init; }

    /// <summary>A stage that samples each prompt an opponent completion to compare with (Nash-MD's), or null.</summary>
    public IRolloutOpponent? Opponent { get; init; }

    /// <summary>The method's own stateful parts (a Lagrange multiplier), saved in checkpoints and restored on resume.</summary>
    public IReadOnlyList<ICheckpointPart> Parts { get; init; } = [];
}

/// <summary>What an online run learns from besides its models: the prompts, the reward, and the tokenizer both ways.</summary>
/// <param name="Encoder">Tokenises the prompts (conversations end with the assistant header).</param>
/// <param name="Decode">Turns completion ids into the text the reward reads.</param>
/// <param name="Reward">Scores completions; a weighted sum logs each source as rewards/&lt;name&gt;/mean.</param>
/// <param name="Prompts">Prompt-only records; every other field of a record reaches the reward.</param>
public sealed record OnlineInputs(ITextEncoder Encoder, Func<int[], string> Decode, IRewardSource Reward, IReadOnlyList<PromptOnlyExample> Prompts)
{
    /// <summary>Prompts to evaluate on every eval_steps (eval_reward, …); without them, eval_fraction of <see cref="Prompts"/> is held out.</summary>
    public IReadOnlyList<PromptOnlyExample>? EvalPrompts { get; init; }

    /// <summary>Saves the tokenizer beside each checkpoint and the final model.</summary>
    public Action<string>? WriteExtraFiles { get; init; }
}

/// <summary>What an online run carries between steps besides weights, optimiser, RNG and data position (online_state.json).</summary>
public sealed record OnlineState(
    [property: JsonPropertyName("kl_coef")] float KlCoefficient,
    [property: JsonPropertyName("episode")] long Episode)
{
    /// <summary>File name inside a checkpoint directory.</summary>
    public const string FileName = "online_state.json";
}

/// <summary>
/// What every online method shares, on the <see cref="TrainingLoop"/>. A step: take the next prompts, sample G
/// completions each with the policy (KV cache, per-token log-probs) and score them with the reward
/// (<see cref="ScoredRollout"/>); score the same tokens with the frozen reference and the critic
/// (<see cref="EvaluatedRollout"/>); the method turns that into what its loss reads (<see cref="Advantages"/>); then
/// <see cref="RolloutPlan.UpdateEpochs"/> passes over the rollout in num_mini_batches shuffled mini-batches, one
/// optimiser step of every trained model each, accumulated over gradient_accumulation_steps micro-batches of the
/// method's <see cref="Loss"/>. Checkpoints hold the policy, its optimiser and the run's RNG, the prompt position,
/// the KL coefficient and episode count, the critics with their optimisers, and the method's own parts.
/// </summary>
public abstract class OnlineTrainer<TBatch> : ITrainer, ITrainingSteps where TBatch : IRolloutBatch
{
    private readonly IOnlineConfig config;
    private readonly RolloutPlan plan;
    private readonly CompletionSampler completions;
    private readonly IReadOnlyList<TokenizedPrompt> prompts, evalPrompts;
    private readonly TrainableModel policy;
    private readonly Action<string>? writeExtraFiles;
    private readonly Dictionary<string, double> phaseSeconds = [];
    private readonly Rng rng;
    private DataSampler sampler = null!;
    private LearningRateSchedule schedule = null!;
    private long episode;

    /// <summary>The policy being trained.</summary>
    public CausalLanguageModel Model { get; }
    /// <summary>The run's output directory.</summary>
    public RunDirectory Run { get; }
    /// <summary>What tokenisation reported about the prompts.</summary>
    public TokenizationReport DataReport { get; }
    /// <summary>The frozen reference policy π_ref, or null when nothing needs it.</summary>
    protected CausalLanguageModel? Reference { get; }
    /// <summary>Steps completed (rollouts collected and learned from) before the current one.</summary>
    protected long GlobalStep { get; private set; }

    /// <summary>Tokenises the prompts (holding out eval_fraction of them when no evaluation prompts are given) and sets up the policy's optimiser.</summary>
    protected OnlineTrainer(IOnlineConfig config, RolloutPlan plan, CausalLanguageModel policy, CausalLanguageModel? reference, OnlineInputs inputs)
    {
        config.Validate();
        string method = GetType().Name;
        var training = config.Training;
        var sampling = config.Online.Sampling;
        if (reference is null && (plan.Kl.Value > 0 || plan.Kl is AdaptiveKlController))
            throw new ArgumentException($"{method}: a KL coefficient above 0 needs a reference model.");
        (this.config, this.plan, Model, Reference, writeExtraFiles) = (config, plan, policy, reference, inputs.WriteExtraFiles);
        training.Freeze(Reference);
        completions = new CompletionSampler(inputs.Encoder, inputs.Decode, inputs.Reward, sampling.MaxPromptLength);
        var (prompts, evalPrompts) = training.EvaluationSplit(inputs.Prompts, inputs.EvalPrompts);
        this.prompts = completions.Tokenize(prompts);
        DataReport = completions.Report;
        this.evalPrompts = evalPrompts is null ? [] : completions.Tokenize(evalPrompts);
        if (this.prompts.Count < PromptsPerStep)
            throw new InvalidDataException($"{method}: {this.prompts.Count} usable prompts, fewer than the {PromptsPerStep} one step samples from ({DataReport}).");
        int longest = this.prompts.Max(p => p.InputIds.Length);
        if (longest + sampling.MaxCompletionLength > policy.Config.MaxPositions)
            throw new ArgumentException($"{method}: prompts of up to {longest} tokens (max_prompt_length {sampling.MaxPromptLength}) plus max_completion_length {sampling.MaxCompletionLength} exceed the model's {policy.Config.MaxPositions} positions.");
        Run = new RunDirectory(training.OutputDir);
        rng = new Rng(training.Seed ^ 0x5DEECE66DUL);
        this.policy = new TrainableModel(policy, training, training.LearningRate, rng: rng);
    }

    /// <summary>Prompts per step: each data-parallel rank brings its completions per step.</summary>
    private int PromptsPerStep => config.Online.CompletionsPerStep(config.Training) * World.Size / plan.SamplesPerPrompt;

    private float LogProbTemperature => plan.LogProbTemperature ?? config.Online.Sampling.Temperature;

    /// <summary>
    /// The method's third stage: what its loss reads, from the evaluated rollout (advantages, the tokens it counts, the
    /// critic's targets, pairs), adding what it shows to <paramref name="metrics"/>.
    /// </summary>
    protected abstract TBatch Advantages(EvaluatedRollout rollout, Dictionary<string, double> metrics);

    /// <summary>One micro-batch's share of the mini-batch loss, over the rollout rows <paramref name="rows"/>.</summary>
    protected abstract StepOutput Loss(TBatch batch, int[] rows, MiniBatch miniBatch);

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

    /// <summary>Runs max_steps steps (or num_train_epochs passes over the prompts), resuming from the latest checkpoint when <paramref name="resume"/> is set.</summary>
    public TrainResult Train(bool resume = false, CancellationToken cancellation = default, IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>? progress = null)
    {
        using var lease = Run.Start(config, Model.Config, DataReport, resume);
        var training = config.Training;
        long total = training.MaxSteps > 0 ? training.MaxSteps : (long)Math.Ceiling(training.NumTrainEpochs * prompts.Count / PromptsPerStep);
        // One schedule of peak 1 scales every model's own peak learning rate (PPO's critic has its own).
        schedule = new LearningRateSchedule(LearningRateSchedule.ParseKind(training.LrSchedulerType), 1f, (long)(training.WarmupRatio * total), total);
        sampler = new DataSampler(prompts.Count, training.Seed, shuffle: true);
        List<ICheckpointPart> parts = [policy, new SamplerPart(sampler), new ProgressPart(this)];
        parts.AddRange(plan.Critics);
        parts.AddRange(plan.Parts);
        var checkpoints = new RunCheckpoints(Run, Model, writeExtraFiles, parts, training, Epoch);
        return new TrainingLoop(Run, LoopSchedule.Of(training), checkpoints).Run(total, this, resume, cancellation, progress);
    }

    private double Epoch(long steps) => (double)steps * PromptsPerStep / prompts.Count;

    IReadOnlyDictionary<string, double>? ITrainingSteps.Step(long step, CancellationToken cancellation)
    {
        GlobalStep = step;
        var metrics = new Dictionary<string, double>();
        // A stop while the reward scores (a slow program, a server) ends the step before the update: the prompt position
        // and the generator go back to where the step began, so the checkpoint then saved resumes exactly.
        var (cursor, state) = (sampler.Cursor, rng.GetState());
        EvaluatedRollout rollout;
        try
        {
            // dropLast keeps every rollout the same size, so groups and mini-batches always divide it.
            rollout = Collect(sampler.NextBatch(PromptsPerStep, dropLast: true), metrics, cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            sampler.Restore(cursor);
            rng.SetState(state);
            throw;
        }
        ReleasePooledBuffers();
        var batch = Timed("advantages", () => Advantages(rollout, metrics));
        Timed("update", () => Update(batch, schedule.At(step), metrics));
        ReleasePooledBuffers();
        if (metrics.TryGetValue("objective/kl", out double kl)) plan.Kl.Update(kl, rollout.Rollout.Rows);
        episode += rollout.Rollout.Rows;
        return metrics;
    }

    // Sampling (the KV cache) and training (activations, gradients) rent buffers of different sizes, and the pool keeps
    // buffers by exact size, so without this the process would hold both phases' at once. Dropped and collected between
    // the phases, each phase's memory serves the other — but what is allocated again fragments the heap: measured on gpt2
    // over two GRPO steps, 64-sequence rollouts peaked 1,285 MiB lower, 8-sequence ones 305 MiB higher (BENCHMARKS.md).
    private static void ReleasePooledBuffers()
    {
        if (BufferPool.PooledFloats * sizeof(float) < PooledToRelease) return;
        BufferPool.Trim();
        GC.Collect();
    }

    private const long PooledToRelease = 1L << 30;

    IReadOnlyDictionary<string, double> ITrainingSteps.Progress(long steps) => new Dictionary<string, double> { ["episode"] = episode, ["epoch"] = Epoch(steps) };

    /// <summary>
    /// The policy on the evaluation prompts: one completion each, sampled as in training but from seeds of its own, the
    /// same at every evaluation (so they differ only by the policy) and apart from the run's generator (so evaluating
    /// changes nothing in training); their reward and length as TRL's GRPO logs them, prefixed eval_.
    /// </summary>
    IReadOnlyDictionary<string, double>? ITrainingSteps.Evaluate()
    {
        if (evalPrompts.Count == 0) return null;
        var sampling = config.Online.Sampling;
        var samples = completions.GenerateAll(Model, evalPrompts, sampling.Options(1, config.Training.Seed ^ 0xE7A15EEDUL), config.Training.PerDeviceEvalBatchSize);
        var scored = completions.Score(evalPrompts, samples, sampling.MissingEosPenalty);
        return CompletionMetrics(scored.Scores, scored.Components, [.. samples.Select(s => s.Tokens.Length)], [.. samples.Select(s => s.FinishReason == FinishReason.Stop)]);
    }

    /// <summary>
    /// The first two stages and the frozen models' view: G completions of each prompt sampled and scored (stopping at
    /// EOS or max_completion_length), then the reference's log-probs and the critic's values of their tokens.
    /// </summary>
    private EvaluatedRollout Collect(int[] promptIndices, Dictionary<string, double> metrics, CancellationToken cancellation)
    {
        var sampling = config.Online.Sampling;
        var options = sampling.Options(plan.SamplesPerPrompt, rng.NextUInt64());
        var batch = promptIndices.Select(i => prompts[i]).ToArray();
        // bf16 or int8 rollouts: copies of this step's weights, read by generation alone (every other forward reads float32).
        bool bf16 = config.Online.RolloutDtype == "bfloat16", int8 = config.Online.RolloutDtype == "int8", lowPrecision = bf16 || int8;
        ScoredCompletions scored;
        if (bf16) Timed("generation", Model.KeepBf16Weights);
        if (int8) Timed("generation", Model.KeepInt8Weights);
        try
        {
            if (World.IsDistributed) scored = Timed("generation", () => ShardedRollout.SampleAndScore(completions, Model, batch, options, sampling.MissingEosPenalty, plan.StepRewards));
            else
            {
                var samples = Timed("generation", () => completions.Generate(Model, batch, options));
                scored = Timed("reward", () => completions.Score(batch, samples, sampling.MissingEosPenalty, cancellation, plan.StepRewards));
            }
        }
        finally
        {
            if (bf16) Model.DropBf16Weights();
            if (int8) Model.DropInt8Weights();
        }
        bool[]? offPolicy = null;
        if (plan.Refinement is { } refinement)
            // Every rank refines the gathered rollout alike (its failed groups are the same everywhere); a stop waits for the next step.
            (scored, offPolicy) = Timed("refinement", () => refinement.Refine(Model, batch, scored, completions, options, sampling.MissingEosPenalty, metrics,
                World.IsDistributed ? default : cancellation));
        // The opponents draw from seeds of their own, so the policy's samples are the same with or without them.
        var opponents = plan.Opponent is { } opponent
            ? Timed("opponent", () => opponent.Sample(Model, Reference, batch, completions, options with { NumReturnSequences = 1, Seed = options.Seed ^ 0x0BB0E17UL }, sampling.MissingEosPenalty, cancellation))
            : null;
        var rollout = Rollout.FromSamples(scored.Samples, plan.SamplesPerPrompt, completions.PadId);
        int chunk = config.Training.PerDeviceTrainBatchSize;
        // The generator's log-probs are at the sampling temperature; a method that scores at another re-scores them. A
        // replaced row's were taken in another context, so its tokens are scored again as an answer to its prompt.
        // bf16 or int8 rollouts' log-probs carry the rounding of the weights: the update's ratios start from float32 ones.
        if (LogProbTemperature != sampling.Temperature || lowPrecision)
        {
            var sampled = rollout;
            rollout = rollout.WithLogProbs(Timed("evaluation", () => rollout.Evaluate(rows => rollout.TokenLogProbs(Model, rows, LogProbTemperature).LogProbs, chunk)));
            if (lowPrecision && LogProbTemperature == sampling.Temperature) LogDrift(sampled, rollout, metrics);
        }
        else if (offPolicy is not null && offPolicy.Any(o => o))
            rollout = rollout.WithLogProbs(Timed("evaluation", () => Rescored(rollout, [.. Enumerable.Range(0, rollout.Rows).Where(r => offPolicy[r])])));
        var reference = Reference is { } r ? Timed("reference", () => rollout.Evaluate(rows => rollout.TokenLogProbs(r, rows, LogProbTemperature).LogProbs, chunk)) : null;
        var values = plan.Critics.Select(critic => Timed("evaluation", () => rollout.Evaluate(rows => rollout.CriticValues(critic.Model, rows), chunk))).ToArray();
        var evaluated = new EvaluatedRollout(new ScoredRollout(rollout, scored.Scores, scored.Components, scored.Requests, StepRewards(rollout, scored)) { OffPolicy = offPolicy, Opponents = opponents },
            reference, values, plan.Kl.Value);
        Describe(evaluated, metrics);
        return evaluated;
    }

    // How far the bf16 or int8 weights' log-probs of the sampled tokens were from the float32 policy's: mean and largest |Δ|.
    private static void LogDrift(Rollout sampled, Rollout exact, Dictionary<string, double> metrics)
    {
        double sum = 0, largest = 0, tokens = 0;
        for (int i = 0; i < exact.LogProbs.Length; i++)
        {
            if (exact.CompletionMask[i] == 0) continue;
            double delta = Math.Abs(sampled.LogProbs[i] - exact.LogProbs[i]);
            (sum, largest, tokens) = (sum + delta, Math.Max(largest, delta), tokens + 1);
        }
        metrics["rollout/logprob_drift"] = tokens == 0 ? 0 : sum / tokens;
        metrics["rollout/logprob_drift_max"] = largest;
    }

    // The rollout's log-probs with those of the given rows taken again under the policy.
    private float[] Rescored(Rollout rollout, int[] rows)
    {
        var logProbs = (float[])rollout.LogProbs.Clone();
        using var tape = new Tape(recordGradients: false);
        var fresh = rollout.TokenLogProbs(Model, rows, LogProbTemperature).LogProbs.Span;
        for (int i = 0; i < rows.Length; i++)
            fresh.Slice(i * rollout.CompletionLength, rollout.CompletionLength).CopyTo(logProbs.AsSpan(rows[i] * rollout.CompletionLength));
        return logProbs;
    }

    // The samples' token rewards laid out as the rollout's rows (samples and rows share their order).
    private static (float[] TokenRewards, float[] ScoreParts)? StepRewards(Rollout rollout, ScoredCompletions scored)
    {
        if (scored.Steps is not { } steps) return null;
        var tokens = new float[rollout.Rows * rollout.CompletionLength];
        for (int r = 0; r < rollout.Rows; r++) steps[r].TokenRewards.CopyTo(tokens, r * rollout.CompletionLength);
        return (tokens, [.. steps.Select(s => s.ScorePart)]);
    }

    // What the rollout itself shows, in TRL's metric names.
    private static void Describe(EvaluatedRollout evaluated, Dictionary<string, double> metrics)
    {
        var rollout = evaluated.Rollout;
        foreach (var (key, value) in CompletionMetrics(evaluated.Scores, evaluated.Scored.Components, rollout.Lengths, rollout.Finished)) metrics[key] = value;
        metrics["val/num_eos_tokens"] = rollout.Finished.Count(f => f);
        // TRL's objective/entropy: the sampled sequences' −log π summed over tokens, averaged over sequences.
        metrics["objective/entropy"] = -rollout.LogProbs.Sum() / rollout.Rows;
        if (evaluated.ReferenceLogProbs is not null)
        {
            // objective/kl: Σ_t k1 per sequence, averaged over sequences — an unbiased estimate of KL(π‖π_ref) per completion.
            metrics["objective/kl"] = rollout.SequenceSums(evaluated.TokenKl(KlEstimator.K1)).Average();
            metrics["objective/kl_coef"] = evaluated.KlCoefficient;
        }
    }

    // The rewards and lengths of scored completions: reward, reward_std, rewards/<name>/mean and std, completions/*.
    private static Dictionary<string, double> CompletionMetrics(float[] scores, IReadOnlyList<RewardComponent> components, int[] lengths, bool[] finished)
    {
        var all = new float[scores.Length];
        Array.Fill(all, 1f);
        var metrics = new Dictionary<string, double>
        {
            ["reward"] = MaskedStatistics.Mean(scores, all),
            ["reward_std"] = Math.Sqrt(MaskedStatistics.Variance(scores, all, unbiased: true)),
        };
        foreach (var c in components)
        {
            // A source answers NaN where it does not apply; its mean is over the completions it scored.
            var applies = c.Scores.Select(s => float.IsNaN(s) ? 0f : 1f).ToArray();
            var values = c.Scores.Select(s => float.IsNaN(s) ? 0f : s).ToArray();
            metrics[$"rewards/{c.Name}/mean"] = applies.Contains(1f) ? MaskedStatistics.Mean(values, applies) : double.NaN;
            metrics[$"rewards/{c.Name}/std"] = applies.Contains(1f) ? Math.Sqrt(MaskedStatistics.Variance(values, applies, unbiased: true)) : double.NaN;
        }
        metrics["completions/mean_length"] = lengths.Average();
        metrics["completions/min_length"] = lengths.Min();
        metrics["completions/max_length"] = lengths.Max();
        metrics["completions/clipped_ratio"] = finished.Count(f => !f) / (double)finished.Length;
        return metrics;
    }

    /// <summary>
    /// The update: the plan's passes over the rollout in num_mini_batches shuffled mini-batches, each one optimiser step
    /// of every model being trained over gradient_accumulation_steps micro-batches, each model's global gradient norm
    /// clipped to max_grad_norm. Metrics are means over all micro-batches.
    /// </summary>
    private void Update(TBatch batch, float learningRateFactor, Dictionary<string, double> metrics)
    {
        List<TrainableModel> parts = GlobalStep < plan.PolicyFrozenSteps ? [] : [policy];
        parts.AddRange(plan.Critics);
        foreach (var part in parts) part.Optimizer.LearningRate = part.PeakLearningRate * learningRateFactor;
        metrics["lr"] = config.Training.LearningRate * learningRateFactor;
        var rollout = batch.Evaluated.Rollout;
        // Each data-parallel rank brings gradient_accumulation_steps micro-batches to a mini-batch (TrainableModel.Step spreads them).
        int micro = config.Training.PerDeviceTrainBatchSize, accumulation = config.Training.GradientAccumulationSteps * World.Size, mini = micro * accumulation;
        var all = new MetricsWindow();
        bool stopped = false;
        for (int epoch = 0; epoch < plan.UpdateEpochs && !stopped; epoch++)
        {
            // A fresh shuffle each pass, in units of rows that stay together.
            int unit = plan.ShuffleUnit;
            int[] order = [.. Permutation.Shuffled(rollout.Rows / unit, rng.NextUInt64()).SelectMany(u => Enumerable.Range(u * unit, unit))];
            for (int m = 0; m < config.Online.NumMiniBatches && !stopped; m++)
            {
                var miniRows = order[(m * mini)..((m + 1) * mini)];
                var shape = new MiniBatch(mini, rollout.Gather(batch.LossMask, miniRows).Sum(x => (double)x), accumulation, config.Online.Sampling.MaxCompletionLength);
                var (microBatches, norms, skipped) = TrainableModel.Step(parts, accumulation, a => Loss(batch, miniRows[(a * micro)..((a + 1) * micro)], shape), 1f,
                    config.Training.MaxGradNorm, config.Training.SkipNonfiniteSteps);
                var window = new MetricsWindow();
                foreach (var (microMetrics, loss) in microBatches)
                {
                    window.Add(microMetrics);
                    // A micro-batch's share times the accumulation steps is its own loss; their mean is the mini-batch's.
                    window.Add(new Dictionary<string, double> { ["loss"] = loss * accumulation });
                }
                foreach (var (metric, norm) in norms) window.Add(new Dictionary<string, double> { [metric] = norm });
                if (config.Training.SkipNonfiniteSteps) window.Add(new Dictionary<string, double> { ["nonfinite_skipped"] = skipped ? 1 : 0 });
                var means = window.Flush();
                all.Add(means);
                stopped = plan.TargetKl is { } target && means.TryGetValue("policy/approxkl_avg", out double approxKl) && approxKl > 1.5 * target;
            }
        }
        foreach (var (k, v) in all.Flush()) metrics[k] = v;
    }

    // The KL coefficient and episode count, in online_state.json.
    private sealed class ProgressPart(OnlineTrainer<TBatch> trainer) : ICheckpointPart
    {
        public void Save(string directory) => RunDirectory.SaveState(directory, OnlineState.FileName, new OnlineState(trainer.plan.Kl.Value, trainer.episode));

        public void Restore(string directory)
        {
            var state = RunDirectory.LoadState<OnlineState>(directory, OnlineState.FileName);
            (trainer.plan.Kl.Value, trainer.episode) = (state.KlCoefficient, state.Episode);
        }
    }
}
