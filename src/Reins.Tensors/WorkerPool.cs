using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Reins.Tensors;

/// <summary>
/// The threads behind <see cref="Engine.For"/>: the caller plus dedicated helpers that share a loop's indices through
/// one atomic counter. A helper spins for a while after each loop before it sleeps, because a decode step runs about
/// thirty parallel loops ~150 µs apart, and waking a sleeping thread-pool thread for each one cost ~0.2 ms of a ~4.5 ms
/// step on the reference VM (BENCHMARKS.md). A sleeping helper waits for the generation to move past the one it has
/// seen (a monitor with a predicate), so a wake-up can be neither lost nor taken by another helper, whatever the thread
/// count, core count and load. One loop runs at a time; a second caller, or a loop started from inside a loop body,
/// runs on its own thread alone.
/// </summary>
internal sealed class WorkerPool
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 1000; // 1 ms
    [ThreadStatic] private static bool insideLoop;

    private readonly Lock gate = new();
    private readonly List<Thread> helpers = [];
    private readonly object sleepers = new();
    private long generation;
    private int sleeping, pending, wanted, next, count;
    private Action<int>? body;
    private Exception? failure;

    /// <summary>Runs body(i) for i in [0, count) on the calling thread and <paramref name="helperCount"/> helpers.</summary>
    public void Run(int count, int helperCount, Action<int> body)
    {
        if (insideLoop || !gate.TryEnter())
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            while (helpers.Count < helperCount)
            {
                int index = helpers.Count;
                var thread = new Thread(() => HelperLoop(index)) { IsBackground = true, Name = $"reins-worker-{index + 1}" };
                helpers.Add(thread);
                thread.Start();
            }
            (this.body, this.count, next, failure, wanted, pending) = (body, count, 0, null, helperCount, helperCount);
            Interlocked.Increment(ref generation); // publishes the loop (a full fence)
            // A helper that counted itself asleep before this read waits on the monitor, or will find the new generation
            // when it takes the monitor; one that counts itself after it sees the new generation without sleeping.
            if (Volatile.Read(ref sleeping) > 0)
                lock (sleepers) Monitor.PulseAll(sleepers);
            Work();
            var spin = new SpinWait();
            while (Volatile.Read(ref pending) > 0) spin.SpinOnce(sleep1Threshold: -1);
            this.body = null;
            if (failure is { } e) ExceptionDispatchInfo.Throw(e);
        }
        finally
        {
            gate.Exit();
        }
    }

    private void Work()
    {
        insideLoop = true;
        try
        {
            int i;
            while ((i = Interlocked.Increment(ref next) - 1) < count)
            {
                try { body!(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
            }
        }
        finally
        {
            insideLoop = false;
        }
    }

    private void HelperLoop(int index)
    {
        long seen = 0;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref generation) == seen && Stopwatch.GetTimestamp() - start < SpinTicks) Thread.SpinWait(20);
            if (Volatile.Read(ref generation) == seen)
            {
                // Announce the sleep, then wait under the monitor until the generation moves: a loop posted after the
                // announcement pulses the monitor, and one posted before it is seen by the predicate.
                Interlocked.Increment(ref sleeping);
                lock (sleepers)
                    while (Volatile.Read(ref generation) == seen) Monitor.Wait(sleepers);
                Interlocked.Decrement(ref sleeping);
                continue;
            }
            seen = Volatile.Read(ref generation);
            if (index >= wanted) continue;
            Work();
            Interlocked.Decrement(ref pending);
        }
    }
}
