using Reins.Feedback.Sampling;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Distributed;
using Reins.Tensors.Optim;

namespace Reins.Alignment.Training;

/// <summary>
/// What every offline trainer (SFT, the DPO family, KTO, reward models) shares, on the <see cref="TrainingLoop"/>:
/// seeded shuffling over epochs, micro-batches with gradient accumulation, global-norm clipping, warm-up and decay,
/// AdamW, checkpoints holding the optimiser, the run's RNG and the data position. A trainer says only how a
/// micro-batch of example indices becomes a loss, and how it evaluates. Under mpirun with N ranks a step has
/// gradient_accumulation_steps × N micro-batches, drawn as one process would draw them, micro-batch k run by rank k mod N:
/// N ranks train as one process with N times the accumulation.
/// </summary>
public abstract class OfflineTrainer<TConfig> : ITrainer, ITrainingSteps where TConfig : ITrainerConfig
{
    private readonly Action<string>? writeExtraFiles;
    private readonly TrainableModel policy;
    private DataSampler sampler = null!;
    private LearningRateSchedule schedule = null!;
    private long stepsPerEpoch;

    /// <summary>The resolved settings.</summary>
    public TConfig Config { get; }
    /// <summary>The model being trained.</summary>
    public CausalLanguageModel Model { get; }
    /// <summary>The run's output directory.</summary>
    public RunDirectory Run { get; }

    /// <summary>Sets up the optimiser over the model's trainable parameters; <paramref name="writeExtraFiles"/> saves the tokenizer beside each checkpoint and the final model.</summary>
    protected OfflineTrainer(TConfig config, CausalLanguageModel model, Action<string>? writeExtraFiles)
    {
        config.Validate();
        (Config, Model, this.writeExtraFiles) = (config, model, writeExtraFiles);
        Run = new RunDirectory(config.Training.OutputDir);
        // The run's generator: no offline step draws from it yet, but checkpoints carry it as online runs' do.
        policy = new TrainableModel(model, config.Training, config.Training.LearningRate, rng: new Rng(config.Training.Seed ^ 0x5DEECE66DUL));
    }

    /// <summary>What tokenising the training set dropped or cut, when the trainer tokenises (see <see cref="RunDirectory.Start"/>).</summary>
    public virtual TokenizationReport? DataReport => null;

    /// <summary>Refuses training sequences longer than the model's positions up front, rather than failing at the first batch holding one.</summary>
    protected void RequireFits(string method, string maxLengthKey, int longest)
    {
        if (longest > Model.Config.MaxPositions)
            throw new ArgumentException($"{method}: training sequences of up to {longest} tokens exceed the model's {Model.Config.MaxPositions} positions; set {maxLengthKey} to {Model.Config.MaxPositions} or less.");
    }

    /// <summary>Examples in the training set.</summary>
    protected abstract int TrainCount { get; }

    /// <summary>Forward pass of one micro-batch (inside a recording tape): the mean loss and metrics.</summary>
    protected abstract StepOutput Step(int[] exampleIndices);

    /// <summary>Metrics over the evaluation set (without the eval_ prefix), or null when there is none.</summary>
    protected virtual IReadOnlyDictionary<string, double>? Evaluate() => null;

    /// <summary>Called before optimiser step <paramref name="step"/> (from 0) runs, with the steps in one epoch (an EM trainer's E-step).</summary>
    protected virtual void BeforeStep(long step, long stepsPerEpoch) { }

    /// <summary>The trainer's own state, saved in every checkpoint and restored on resume (an EM trainer's assignments).</summary>
    protected virtual IEnumerable<ICheckpointPart> Parts => [];

    /// <summary>
    /// Writes files that belong beside the weights into <paramref name="directory"/> (a checkpoint's or the final
    /// model's staging directory): the constructor's writeExtraFiles, plus whatever a trainer derives from the
    /// weights being saved (a reward model's normalisation statistics).
    /// </summary>
    protected virtual void WriteExtraFiles(string directory) => writeExtraFiles?.Invoke(directory);

    /// <summary>Runs to max_steps (or num_train_epochs), resuming from the latest checkpoint when <paramref name="resume"/> is set.</summary>
    public TrainResult Train(bool resume = false, CancellationToken cancellation = default, IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>? progress = null)
    {
        using var lease = Run.Start(Config, Model.Config, DataReport, resume);
        var t = Config.Training;
        int perStep = t.PerDeviceTrainBatchSize * Accumulation;
        stepsPerEpoch = Math.Max(1, (TrainCount + perStep - 1) / perStep);
        long total = t.MaxSteps > 0 ? t.MaxSteps : (long)Math.Ceiling(t.NumTrainEpochs * stepsPerEpoch);
        schedule = new LearningRateSchedule(LearningRateSchedule.ParseKind(t.LrSchedulerType), t.LearningRate, (long)(t.WarmupRatio * total), total);
        sampler = new DataSampler(TrainCount, t.Seed, shuffle: true);
        var checkpoints = new RunCheckpoints(Run, Model, WriteExtraFiles, [policy, new SamplerPart(sampler), .. Parts], t, step => (double)step / stepsPerEpoch);
        return new TrainingLoop(Run, LoopSchedule.Of(t), checkpoints).Run(total, this, resume, cancellation, progress);
    }

    // Micro-batches a step: gradient_accumulation_steps on each of the data-parallel ranks.
    private int Accumulation => Config.Training.GradientAccumulationSteps * World.Size;

    IReadOnlyDictionary<string, double>? ITrainingSteps.Step(long step, CancellationToken cancellation)
    {
        var t = Config.Training;
        int accumulation = Accumulation;
        BeforeStep(step, stepsPerEpoch);
        policy.Optimizer.LearningRate = schedule.At(step);
        // Every rank draws the step's micro-batches as one process would, and runs its share of them (TrainableModel.Step).
        var batches = Enumerable.Range(0, accumulation).Select(_ => sampler.NextBatch(t.PerDeviceTrainBatchSize)).ToArray();
        // Each micro-batch's mean loss is scaled so the accumulated gradient is the mean over the whole step.
        var (micro, norms, skipped) = TrainableModel.Step([policy], accumulation, k => Step(batches[k]), 1f / accumulation, t.MaxGradNorm, t.SkipNonfiniteSteps);
        var metrics = new Dictionary<string, double>();
        foreach (var (microMetrics, loss) in micro)
        {
            Add(metrics, "loss", loss / accumulation);
            foreach (var (k, v) in microMetrics) Add(metrics, k, v / accumulation);
        }
        metrics["grad_norm"] = norms[0].Norm;
        metrics["learning_rate"] = policy.Optimizer.LearningRate;
        if (t.SkipNonfiniteSteps) metrics["nonfinite_skipped"] = skipped ? 1 : 0;
        return metrics;
    }

    IReadOnlyDictionary<string, double> ITrainingSteps.Progress(long steps) => new Dictionary<string, double> { ["epoch"] = (double)steps / stepsPerEpoch };

    IReadOnlyDictionary<string, double>? ITrainingSteps.Evaluate() => Evaluate();

    private static void Add(Dictionary<string, double> d, string key, double value) => d[key] = d.GetValueOrDefault(key) + value;
}
