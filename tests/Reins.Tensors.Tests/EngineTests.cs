using Reins.Tensors;

namespace Reins.Tensors.Tests;

public class EngineTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(997)]
    public void ParallelLoopRunsEveryIndexExactlyOnce(int count)
    {
        for (int round = 0; round < 50; round++)
        {
            var hits = new int[count];
            Engine.For(count, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void LoopStartedInsideALoopBodyCompletes()
    {
        var hits = new int[8 * 16];
        Engine.For(8, i => Engine.For(16, j => Interlocked.Increment(ref hits[i * 16 + j])));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void ExceptionFromABodyReachesTheCallerAndThePoolStillWorks()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Engine.For(100, i => { if (i == 37) throw new InvalidOperationException("index 37"); }));
        Assert.Equal("index 37", error.Message);
        int sum = 0;
        Engine.For(100, i => Interlocked.Add(ref sum, i));
        Assert.Equal(4950, sum);
    }

    [Fact]
    public void RangesCoverTheLengthInFixedPieces()
    {
        var pieces = new List<(int, int)>();
        Engine.ForRanges(10, 4, (s, n) => { lock (pieces) pieces.Add((s, n)); });
        Assert.Equal([(0, 4), (4, 4), (8, 2)], pieces.OrderBy(p => p.Item1));
    }

    [Fact]
    public async Task ALoopDoesNotWaitForAHelperThatHasNotJoinedIt()
    {
        // A helper held at its wake-up stands for one the scheduler has descheduled (another process on the cores):
        // the caller must run the whole loop itself and return, not wait for it; once let go, the helper serves later
        // loops again.
        using var release = new ManualResetEventSlim();
        var held = new CountdownEvent(1);
        var pool = new WorkerPool(() =>
        {
            if (!held.IsSet) { held.Signal(); release.Wait(); }
        });
        var hits = new int[64];
        var first = Task.Run(() => pool.Run(hits.Length, 1, i => Interlocked.Increment(ref hits[i])));
        try
        {
            Assert.True(held.Wait(TimeSpan.FromSeconds(30)), "the helper never woke");
            var done = await Task.WhenAny(first, Task.Delay(TimeSpan.FromSeconds(30)));
            Assert.True(done == first, "the loop waited for a helper that had not joined it");
            Assert.All(hits, h => Assert.Equal(1, h));
        }
        finally
        {
            release.Set();
        }
        var helperThreads = new HashSet<string?>();
        for (int round = 0; round < 2000 && !helperThreads.Contains("reins-worker-1"); round++)
            pool.Run(64, 1, _ => { Thread.SpinWait(200); lock (helperThreads) helperThreads.Add(Thread.CurrentThread.Name); });
        Assert.Contains("reins-worker-1", helperThreads);
    }

    [Fact]
    public async Task MoreHelpersThanCoresUnderLoadNeverHang()
    {
        // Busy threads on every core, and loops with more helpers than cores separated by pauses long enough for the
        // helpers to fall asleep, so wake-ups race with helpers going back to sleep. A lost or stolen wake-up leaves
        // the caller waiting forever: the run must finish well within its limit.
        int cores = Environment.ProcessorCount;
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, cores).Select(_ => new Thread(() => { while (!stop.IsCancellationRequested) Thread.SpinWait(1000); }) { IsBackground = true }).ToList();
        load.ForEach(t => t.Start());
        try
        {
            var run = Task.Run(() =>
            {
                foreach (int helpers in new[] { cores, 2 * cores + 1, 8 * cores })
                {
                    var pool = new WorkerPool();
                    for (int loop = 0; loop < 150; loop++)
                    {
                        var hits = new int[4 * (helpers + 1)];
                        pool.Run(hits.Length, helpers, i => Interlocked.Increment(ref hits[i]));
                        if (hits.Any(h => h != 1)) throw new InvalidOperationException($"{helpers} helpers, loop {loop}: an index ran {hits.First(h => h != 1)} times.");
                        if (loop % 3 == 0) Thread.Sleep(2);
                    }
                }
            });
            var first = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(90)));
            Assert.True(first == run, "the worker pool hung: a helper slept through a loop it was part of.");
            await run;
        }
        finally
        {
            stop.Cancel();
        }
    }
}
