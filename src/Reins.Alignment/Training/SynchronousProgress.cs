namespace Reins.Alignment.Training;

/// <summary>
/// An <see cref="IProgress{T}"/> that runs its callback on the reporting thread, before the reporter continues.
/// <see cref="Progress{T}"/> posts to the thread pool instead, so a callback meant to act between two training steps
/// (cancel, evaluate a checkpoint, move a progress bar) would run late and out of order.
/// </summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    /// <inheritdoc/>
    public void Report(T value) => report(value);
}
