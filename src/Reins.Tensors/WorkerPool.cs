using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Reins.Tensors;

/// <summary>
/// The threads behind <see cref="Engine.For"/>: the caller plus dedicated helpers that share a loop's indices through
/// one atomic counter. A helper spins for a while after each loop before it sleeps, because a decode step runs about
/// thirty parallel loops ~150 µs apart, and waking a sleeping thread-pool thread for each one cost ~0.2 ms of a ~4.5 ms
/// step on the reference VM (BENCHMARKS.md); it yields its core between checks, so a process sharing the cores runs in
/// the meantime instead of waiting out the spin. A sleeping helper waits for the generation to move past the one it has
/// seen (a monitor with a predicate), so a wake-up can be neither lost nor taken by another helper, whatever the thread
/// count, core count and load. One loop runs at a time; a second caller, or a loop started from inside a loop body,
/// runs on its own thread alone.
/// <para>
/// The caller waits only for the helpers that joined the loop before it closed, never for one that has not woken yet:
/// when another process shares the cores, a helper can be descheduled for a whole scheduler quantum, and waiting for it
/// at every loop made a run beside another Reins process about six times slower.
/// </para>
/// </summary>
/// <param name="helperWoke">
/// Called by a helper each time it sees a new loop, before it tries to join; tests hold a helper there to stand for one
/// the scheduler has set aside.
/// </param>
internal sealed class WorkerPool(Action? helperWoke = null)
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 1000; // 1 ms
    [ThreadStatic] private static bool insideLoop;

    private readonly Lock gate = new();
    private readonly List<Thread> helpers = [];
    private readonly object sleepers = new();
    private long generation;
    private int sleeping;
    private Loop? current;

    /// <summary>
    /// One loop's state. <see cref="members"/> counts the helpers inside it, with <see cref="Closed"/> set once the
    /// caller has finished its share: a helper joins only while the bit is clear, so after setting it the caller has
    /// a fixed set to wait for. A loop is never reused, so a helper that wakes late finds its loop closed, not another's.
    /// </summary>
    private sealed class Loop(Action<int> body, int count, int wanted)
    {
        public const int Closed = 1 << 30;
        public readonly Action<int> Body = body;
        public readonly int Count = count, Wanted = wanted;
        public int Next, members;
        public Exception? Failure;

        public bool TryJoin()
        {
            int seen = Volatile.Read(ref members);
            while ((seen & Closed) == 0)
            {
                int was = Interlocked.CompareExchange(ref members, seen + 1, seen);
                if (was == seen) return true;
                seen = was;
            }
            return false;
        }

        public void Leave() => Interlocked.Decrement(ref members);

        public void CloseAndWait()
        {
            Interlocked.Or(ref members, Closed);
            var spin = new SpinWait();
            while (Volatile.Read(ref members) != Closed) spin.SpinOnce(sleep1Threshold: -1);
        }

        public void Work()
        {
            insideLoop = true;
            try
            {
                int i;
                while ((i = Interlocked.Increment(ref Next) - 1) < Count)
                {
                    try { Body(i); }
                    catch (Exception e) { Interlocked.CompareExchange(ref Failure, e, null); }
                }
            }
            finally
            {
                insideLoop = false;
            }
        }
    }

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
            var loop = new Loop(body, count, helperCount);
            Volatile.Write(ref current, loop);
            Interlocked.Increment(ref generation); // publishes the loop (a full fence)
            // A helper that counted itself asleep before this read waits on the monitor, or will find the new generation
            // when it takes the monitor; one that counts itself after it sees the new generation without sleeping.
            if (Volatile.Read(ref sleeping) > 0)
                lock (sleepers) Monitor.PulseAll(sleepers);
            loop.Work();
            loop.CloseAndWait();
            Volatile.Write(ref current, null); // lets the body's captures go before the next loop
            if (loop.Failure is { } e) ExceptionDispatchInfo.Throw(e);
        }
        finally
        {
            gate.Exit();
        }
    }

    private void HelperLoop(int index)
    {
        long seen = 0;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref generation) == seen && Stopwatch.GetTimestamp() - start < SpinTicks) { Thread.SpinWait(20); Thread.Yield(); }
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
            helperWoke?.Invoke();
            if (Volatile.Read(ref current) is not { } loop || index >= loop.Wanted || !loop.TryJoin()) continue;
            loop.Work();
            loop.Leave();
        }
    }
}
