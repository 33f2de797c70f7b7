using Reins.Feedback.Sampling;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;

using Reins.Tensors.Distributed;

namespace Reins.Alignment.Training;

/// <summary>Where a <see cref="TrainingLoop"/> keeps what a resume needs, and what it leaves at the end.</summary>
public interface ICheckpoints
{
    /// <summary>
    /// Restores the latest checkpoint, with the logging window it left open, and returns its step, or null when there is
    /// none to resume from.
    /// </summary>
    long? RestoreLatest(MetricsWindow window);

    /// <summary>Called after each step: saves a checkpoint (with the open logging window) when one is due.</summary>
    void AfterStep(long step, long total, MetricsWindow window);

    /// <summary>Saves what a resume needs when a run is stopped before step <paramref name="step"/>.</summary>
    void SaveInterrupted(long step, long total, MetricsWindow window);

    /// <summary>Saves the finished run's models.</summary>
    void SaveFinal();
}

/// <summary>Something a checkpoint holds besides the policy's weights, saving and restoring itself in the checkpoint's directory.</summary>
public interface ICheckpointPart
{
    /// <summary>Writes the part into <paramref name="directory"/>, a checkpoint being assembled.</summary>
    void Save(string directory);

    /// <summary>Restores the part from a checkpoint directory written by <see cref="Save"/>.</summary>
    void Restore(string directory);
}

/// <summary>The training set's position (data_cursor.json), so a resumed run sees the examples in the same order.</summary>
public sealed class SamplerPart(DataSampler sampler) : ICheckpointPart
{
    /// <inheritdoc/>
    public void Save(string directory) => sampler.Cursor.Save(Path.Combine(directory, DataCursor.FileName));

    /// <inheritdoc/>
    public void Restore(string directory) => sampler.Restore(DataCursor.Load(Path.Combine(directory, DataCursor.FileName)));
}

/// <summary>
/// checkpoint-N/ directories in the run directory, as transformers writes them: the policy's weights with the
/// tokenizer (and whatever else <c>writeExtraFiles</c> puts beside weights), every part (optimisers with the run's RNG,
/// data cursor, KL coefficient, critic, …) and trainer_state.json, written last, whose presence marks a complete
/// checkpoint. One is saved every save_steps steps before the last, at most save_total_limit are kept, and the final
/// models land in the run directory itself.
/// </summary>
public sealed class RunCheckpoints(RunDirectory run, CausalLanguageModel model, Action<string>? writeExtraFiles, IReadOnlyList<ICheckpointPart> parts,
    TrainingArguments arguments, Func<long, double> epoch) : ICheckpoints
{
    /// <inheritdoc/>
    public long? RestoreLatest(MetricsWindow window)
    {
        if (run.Checkpoints() is not { Count: > 0 } checkpoints) return null;
        string path = checkpoints[^1].Path;
        HfCheckpoint.Restore(model, path);
        foreach (var part in parts) part.Restore(path);
        var state = TrainerState.Load(path);
        window.Restore(state.LogWindow);
        return state.GlobalStep;
    }

    /// <inheritdoc/>
    public void AfterStep(long step, long total, MetricsWindow window)
    {
        if (arguments.SaveSteps > 0 && step % arguments.SaveSteps == 0 && step < total) Save(step, total, window);
    }

    /// <inheritdoc/>
    public void SaveInterrupted(long step, long total, MetricsWindow window) => Save(step, total, window);

    /// <inheritdoc/>
    public void SaveFinal()
    {
        if (!World.IsMain) return;
        run.SaveFinalModel(model, writeExtraFiles, arguments.SaveDtype(model));
        foreach (var part in parts.OfType<TrainableModel>()) part.SaveFinal(run.Path, writeExtraFiles);
    }

    private void Save(long step, long total, MetricsWindow window)
    {
        if (!World.IsMain) return;
        HfCheckpoint.Save(model, run.CheckpointPath(step), dir =>
        {
            writeExtraFiles?.Invoke(dir);
            foreach (var part in parts) part.Save(dir);
            new TrainerState(step, epoch(step), total, window.Pending()).Save(dir);
        });
        run.PruneCheckpoints(arguments.SaveTotalLimit);
    }
}
