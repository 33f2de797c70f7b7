using Reins.Feedback.Sampling;

namespace Reins.Feedback.Tests;

public sealed class SamplingTests : FileWritingTests
{
    private static readonly int[] Items = Enumerable.Range(100, 50).ToArray();

    [Fact]
    public void SplitByFractionRoundsUpAndPartitionsTheItems()
    {
        var split = DatasetSplit<int>.ByFraction(Items, 0.1, seed: 3);
        Assert.Equal((45, 5), (split.Train.Count, split.Test.Count));
        Assert.Equal(Items, split.Train.Concat(split.Test).Order());
        Assert.Equal(split.Train.Order(), split.Train);
        Assert.Equal(split.Test.Order(), split.Test);
        Assert.Equal(6, DatasetSplit<int>.ByFraction(Items, 0.101, seed: 3).Test.Count);
    }

    [Fact]
    public void SplitsAreDeterminedBySeed()
    {
        var a = DatasetSplit<int>.ByCount(Items, 10, seed: 1);
        Assert.Equal(a.Test, DatasetSplit<int>.ByCount(Items, 10, seed: 1).Test);
        Assert.NotEqual(a.Test, DatasetSplit<int>.ByCount(Items, 10, seed: 2).Test);
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplit<int>.ByCount(Items, 50, seed: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplit<int>.ByFraction(Items, 1.0, seed: 1));
    }

    private static List<int[]> Batches(DataSampler sampler, int count, int batchSize = 8) =>
        Enumerable.Range(0, count).Select(_ => sampler.NextBatch(batchSize)).ToList();

    [Fact]
    public void ShuffleIsDeterminedBySeedAndEachEpochIsAPermutation()
    {
        var first = Batches(new DataSampler(50, seed: 11), 21);
        Assert.Equal(first, Batches(new DataSampler(50, seed: 11), 21));
        Assert.NotEqual(first, Batches(new DataSampler(50, seed: 12), 21));
        // 50 items in batches of 8: six full batches and one of 2 per epoch.
        Assert.Equal([8, 8, 8, 8, 8, 8, 2], first.Take(7).Select(b => b.Length));
        var epoch0 = first.Take(7).SelectMany(b => b).ToArray();
        var epoch1 = first.Skip(7).Take(7).SelectMany(b => b).ToArray();
        Assert.Equal(Enumerable.Range(0, 50), epoch0.Order());
        Assert.Equal(Enumerable.Range(0, 50), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1);
        Assert.NotEqual(Enumerable.Range(0, 50), epoch0);
    }

    [Fact]
    public void WithoutShufflingTheOrderIsTheFileOrder()
    {
        var sampler = new DataSampler(5, seed: 1, shuffle: false);
        Assert.Equal([[0, 1, 2], [3, 4], [0, 1, 2]], Batches(sampler, 3, batchSize: 3));
    }

    [Fact]
    public void DropLastSkipsTheShortRemainder()
    {
        var sampler = new DataSampler(5, seed: 1, shuffle: false);
        Assert.Equal([[0, 1], [2, 3], [0, 1]], Enumerable.Range(0, 3).Select(_ => sampler.NextBatch(2, dropLast: true)));
        Assert.Equal(1, sampler.Epoch);
    }

    [Fact]
    public void ASavedCursorResumesTheSameOrderAcrossEpochs()
    {
        var original = new DataSampler(50, seed: 7);
        Batches(original, 5);
        string path = Files.PathOf(DataCursor.FileName);
        original.Cursor.Save(path);
        var expected = Batches(original, 12);

        var resumed = new DataSampler(50, seed: 7);
        resumed.Restore(DataCursor.Load(path));
        Assert.Equal((0, 40), (resumed.Epoch, resumed.Position));
        Assert.Equal(expected, Batches(resumed, 12));
        Assert.Equal(original.Cursor, resumed.Cursor);
    }

    [Fact]
    public void ACursorFromAnotherSeedOrSizeIsRefused()
    {
        var cursor = new DataSampler(50, seed: 7).Cursor;
        Assert.Throws<ArgumentException>(() => new DataSampler(50, seed: 8).Restore(cursor));
        Assert.Throws<ArgumentException>(() => new DataSampler(49, seed: 7).Restore(cursor));
    }
}
