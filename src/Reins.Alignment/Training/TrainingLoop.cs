using Reins.Tensors;
using Reins.Tensors.Distributed;

namespace Reins.Alignment.Training;

/// <summary>What a training step reports: the loss to back-propagate and metrics to log (averaged over micro-batches and the logging window).</summary>
public sealed record StepOutput(Tensor Loss, IReadOnlyDictionary<string, double> Metrics)
{
    /// <summary>
    /// A further term of the loss, over other trained models (PPO's critics after its policy): its forward runs after this
    /// term's backward, under a tape of its own, so memory holds one model's activations at a time rather than every
    /// model's at once; its loss adds to this one's and its metrics join these. Null when this is the last term.
    /// </summary>
    public Func<StepOutput>? Next { get; init; }
}

/// <summary>How a call to <see cref="ITrainer.Train"/> ended.</summary>
public sealed record TrainResult(long Steps, bool Interrupted, IReadOnlyDictionary<string, double> LastMetrics);

/// <summary>What a method gives the <see cref="TrainingLoop"/>: its steps, the progress each logged row records, and its evaluation.</summary>
public interface ITrainingSteps
{
    /// <summary>
    /// Runs 0-based step <paramref name="step"/> and returns its metrics; null when cancellation stopped it midway and it
    /// saved what a resume needs itself; or an <see cref="OperationCanceledException"/> when it stopped before changing
    /// anything a checkpoint holds (the loop then saves one as of the step's start).
    /// </summary>
    IReadOnlyDictionary<string, double>? Step(long step, CancellationToken cancellation);

    /// <summary>What every logged row ends with after <paramref name="steps"/> steps: "epoch" (online runs put "episode" first).</summary>
    IReadOnlyDictionary<string, double> Progress(long steps);

    /// <summary>Metrics on the evaluation set (without the eval_ prefix), or null when there is none.</summary>
    IReadOnlyDictionary<string, double>? Evaluate();
}

/// <summary>When the loop logs and evaluates (transformers' logging_steps and eval_steps).</summary>
/// <param name="LoggingSteps">A metrics row every this many steps, and after the last.</param>
/// <param name="EvalSteps">Evaluation every this many steps (0 = after the last only).</param>
public sealed record LoopSchedule(int LoggingSteps, int EvalSteps)
{
    /// <summary>The schedule <paramref name="arguments"/> set.</summary>
    public static LoopSchedule Of(TrainingArguments arguments) => new(arguments.LoggingSteps, arguments.EvalSteps);
}

/// <summary>
/// The one loop every trainer runs on, as transformers' Trainer: steps to the total, a metrics.jsonl row every
/// logging_steps (each metric's mean over the window), evaluation every eval_steps with keys prefixed eval_, a
/// checkpoint when the checkpoints say one is due, a checkpoint on cancellation (Ctrl-C), exact resume from the latest
/// checkpoint (metrics logged after it are dropped and logged again, from the logging window it saved), and the final model at the end.
/// In a data-parallel run only rank 0 logs, evaluates and writes. What a step does is the method's (<see cref="ITrainingSteps"/>); what a checkpoint holds is the parts' (<see cref="ICheckpoints"/>).
/// </summary>
public sealed class TrainingLoop(RunDirectory run, LoopSchedule schedule, ICheckpoints checkpoints)
{
    /// <summary>Runs to <paramref name="total"/> steps, resuming from the latest checkpoint when <paramref name="resume"/> is set.</summary>
    public TrainResult Run(long total, ITrainingSteps steps, bool resume, CancellationToken cancellation,
        IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>? progress)
    {
        long step = 0;
        var window = new MetricsWindow();
        if (resume && checkpoints.RestoreLatest(window) is { } restored) step = restored;
        run.TruncateMetricsAfter(step);

        IReadOnlyDictionary<string, double> last = new Dictionary<string, double>();
        while (step < total)
        {
            // Every rank of a data-parallel run stops at the same step, or the others would wait in a collective.
            if (World.Any(cancellation.IsCancellationRequested))
            {
                checkpoints.SaveInterrupted(step, total, window);
                return new TrainResult(step, Interrupted: true, last);
            }
            IReadOnlyDictionary<string, double>? metrics;
            try { metrics = steps.Step(step, cancellation); }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                checkpoints.SaveInterrupted(step, total, window);
                return new TrainResult(step, Interrupted: true, last);
            }
            catch (NonFiniteTrainingException e) { throw new NonFiniteTrainingException($"step {step + 1}: {e.Message}"); }
            if (metrics is null) return new TrainResult(step, Interrupted: true, last);
            step++;
            window.Add(metrics);

            if (step % schedule.LoggingSteps == 0 || step == total)
            {
                var row = window.Flush();
                foreach (var (key, value) in steps.Progress(step)) row[key] = value;
                run.AppendMetrics(step, row);
                last = row;
            }
            if (schedule.EvalSteps > 0 && step % schedule.EvalSteps == 0 || step == total) LogEvaluation(steps, step);
            checkpoints.AfterStep(step, total, window);
            progress?.Report((step, total, last));
        }
        checkpoints.SaveFinal();
        return new TrainResult(step, Interrupted: false, last);
    }

    private void LogEvaluation(ITrainingSteps steps, long step)
    {
        if (!World.IsMain) return;
        using var tape = new Tape(recordGradients: false);
        if (steps.Evaluate() is not { } metrics) return;
        run.AppendMetrics(step, metrics.ToDictionary(kv => "eval_" + kv.Key, kv => kv.Value));
    }
}
