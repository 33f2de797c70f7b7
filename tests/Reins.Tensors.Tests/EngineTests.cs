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
}
