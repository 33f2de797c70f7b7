using Reins.Feedback.Sampling;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Optim;

namespace Reins.Alignment.Training;

/// <summary>What a training step reports: the loss to back-propagate and metrics to log (averaged over micro-batches and the logging window).</summary>
public sealed record StepOutput(Tensor Loss, IReadOnlyDictionary<string, double> Metrics);

/// <summary>How a call to <see cref="Trainer{TConfig}.Train"/> ended.</summary>
public sealed record TrainResult(long Steps, bool Interrupted, IReadOnlyDictionary<string, double> LastMetrics);

/// <summary>
/// The loop every offline trainer shares, as transformers' Trainer: seeded shuffling over epochs, micro-batches
/// with gradient accumulation, global-norm clipping, warm-up and decay, AdamW, metrics.jsonl every logging_steps,
/// evaluation every eval_steps (keys prefixed eval_), checkpoint-N every save_steps, exact resume from the latest
/// checkpoint (weights, optimiser, RNG, data position, metrics), and a checkpoint on cancellation (Ctrl-C).
/// Subclasses say only how a micro-batch of example indices becomes a loss.
/// </summary>
public abstract class Trainer<TConfig> : ITrainer where TConfig : TrainingArguments
{
    /// <summary>The resolved settings.</summary>
    public TConfig Config { get; }
    /// <summary>The model being trained.</summary>
    public CausalLanguageModel Model { get; }
    /// <summary>The run's output directory.</summary>
    public RunDirectory Run { get; }
    /// <summary>Random generator for dropout and sampling inside steps; saved with checkpoints.</summary>
    protected Rng Rng { get; }

    private readonly Action<string>? writeExtraFiles;
    private readonly AdamW optimizer;

    /// <summary>Sets up the optimiser over the model's trainable parameters; <paramref name="writeExtraFiles"/> saves the tokenizer beside each checkpoint and the final model.</summary>
    protected Trainer(TConfig config, CausalLanguageModel model, Action<string>? writeExtraFiles)
    {
        config.Validate();
        Config = config;
        Model = model;
        this.writeExtraFiles = writeExtraFiles;
        Run = new RunDirectory(config.OutputDir);
        Rng = new Rng(config.Seed ^ 0x5DEECE66DUL);
        // As transformers does: no weight decay on biases and norm weights.
        optimizer = new AdamW(model.TrainableParameters, config.LearningRate, config.AdamBeta1, config.AdamBeta2, config.AdamEpsilon, config.WeightDecay)
        {
            DecayFilter = p => p.Rank >= 2,
        };
    }

    /// <summary>Examples in the training set.</summary>
    protected abstract int TrainCount { get; }

    /// <summary>Forward pass of one micro-batch (inside a recording tape): the mean loss and metrics.</summary>
    protected abstract StepOutput Step(int[] exampleIndices);

    /// <summary>Metrics over the evaluation set (without the eval_ prefix), or null when there is none.</summary>
    protected virtual IReadOnlyDictionary<string, double>? Evaluate() => null;

    /// <summary>
    /// Writes files that belong beside the weights into <paramref name="directory"/> (a checkpoint's or the final
    /// model's staging directory): the constructor's writeExtraFiles, plus whatever a trainer derives from the
    /// weights being saved (a reward model's normalisation statistics).
    /// </summary>
    protected virtual void WriteExtraFiles(string directory) => writeExtraFiles?.Invoke(directory);

    /// <summary>Runs to max_steps (or num_train_epochs), resuming from the latest checkpoint when <paramref name="resume"/> is set.</summary>
    public TrainResult Train(bool resume = false, CancellationToken cancellation = default, IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>? progress = null)
    {
        int perStep = Config.PerDeviceTrainBatchSize * Config.GradientAccumulationSteps;
        long stepsPerEpoch = Math.Max(1, (TrainCount + perStep - 1) / perStep);
        long total = Config.MaxSteps > 0 ? Config.MaxSteps : (long)Math.Ceiling(Config.NumTrainEpochs * stepsPerEpoch);
        var schedule = new LearningRateSchedule(LearningRateSchedule.ParseKind(Config.LrSchedulerType), Config.LearningRate, (long)(Config.WarmupRatio * total), total);
        var sampler = new DataSampler(TrainCount, Config.Seed, shuffle: true);
        Run.WriteConfig(ConfigBinder.ToJson(Config), Model.Config);

        long step = 0;
        if (resume && Run.Checkpoints() is { Count: > 0 } checkpoints)
        {
            var (at, path) = checkpoints[^1];
            Model.CopyParametersFrom(HfCheckpoint.Load(path));
            OptimizerState.Load(Path.Combine(path, OptimizerState.FileName), optimizer, Rng);
            sampler.Restore(DataCursor.Load(Path.Combine(path, DataCursor.FileName)));
            step = TrainerState.Load(path).GlobalStep;
            Run.TruncateMetricsAfter(step);
        }

        var window = new MetricsWindow();
        IReadOnlyDictionary<string, double> last = new Dictionary<string, double>();
        while (step < total)
        {
            if (cancellation.IsCancellationRequested)
            {
                SaveCheckpoint(step, sampler, total, stepsPerEpoch);
                return new TrainResult(step, Interrupted: true, last);
            }
            optimizer.ZeroGrad();
            var stepMetrics = new Dictionary<string, double>();
            for (int micro = 0; micro < Config.GradientAccumulationSteps; micro++)
            {
                var batch = sampler.NextBatch(Config.PerDeviceTrainBatchSize);
                using var tape = new Tape();
                var output = Step(batch);
                // Each micro-batch's mean loss is scaled so the accumulated gradient is the mean over the whole step.
                tape.Backward(output.Loss, 1f / Config.GradientAccumulationSteps);
                Add(stepMetrics, "loss", output.Loss.Item() / Config.GradientAccumulationSteps);
                foreach (var (k, v) in output.Metrics) Add(stepMetrics, k, v / Config.GradientAccumulationSteps);
            }
            stepMetrics["grad_norm"] = Config.MaxGradNorm > 0 ? optimizer.ClipGradNorm(Config.MaxGradNorm) : optimizer.ClipGradNorm(float.PositiveInfinity);
            optimizer.LearningRate = schedule.At(step);
            stepMetrics["learning_rate"] = optimizer.LearningRate;
            optimizer.Step();
            step++;
            window.Add(stepMetrics);

            if (step % Config.LoggingSteps == 0 || step == total)
            {
                var row = window.Flush();
                row["epoch"] = (double)step / stepsPerEpoch;
                Run.AppendMetrics(step, row);
                last = row;
            }
            if (Config.EvalSteps > 0 && step % Config.EvalSteps == 0 || step == total) LogEvaluation(step);
            if (Config.SaveSteps > 0 && step % Config.SaveSteps == 0 && step < total) SaveCheckpoint(step, sampler, total, stepsPerEpoch);
            progress?.Report((step, total, last));
        }
        Run.SaveFinalModel(Model, WriteExtraFiles);
        return new TrainResult(step, Interrupted: false, last);
    }

    private void LogEvaluation(long step)
    {
        using var tape = new Tape(recordGradients: false);
        if (Evaluate() is not { } metrics) return;
        Run.AppendMetrics(step, metrics.ToDictionary(kv => "eval_" + kv.Key, kv => kv.Value));
    }

    private void SaveCheckpoint(long step, DataSampler sampler, long total, long stepsPerEpoch)
    {
        HfCheckpoint.Save(Model, Run.CheckpointPath(step), dir =>
        {
            WriteExtraFiles(dir);
            OptimizerState.Save(Path.Combine(dir, OptimizerState.FileName), optimizer, Rng);
            sampler.Cursor.Save(Path.Combine(dir, DataCursor.FileName));
            new TrainerState(step, (double)step / stepsPerEpoch, total).Save(dir);
        });
        Run.PruneCheckpoints(Config.SaveTotalLimit);
    }

    private static void Add(Dictionary<string, double> d, string key, double value) => d[key] = d.GetValueOrDefault(key) + value;
}
