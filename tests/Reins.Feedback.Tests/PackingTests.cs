using Reins.Feedback.Batching;
using Reins.Feedback.Tokenization;
using Reins.Tensors;

namespace Reins.Feedback.Tests;

public sealed class PackingTests
{
    private const int Eos = ByteEncoder.Eos, Pad = ByteEncoder.Pad, X = TokenizedSequence.IgnoreIndex;

    /// <summary>Documents of 1–maxLength random byte tokens, every other one already ending in EOS, half of them with a masked prompt.</summary>
    private static TokenizedSequence[] RandomDocuments(int count, int maxLength, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(d =>
        {
            var ids = Enumerable.Range(0, 1 + rng.NextInt(maxLength)).Select(_ => rng.NextInt(256)).ToArray();
            if (d % 2 == 0) ids[^1] = Eos;
            int prompt = d % 4 < 2 ? 0 : rng.NextInt(ids.Length);
            return new TokenizedSequence(ids, ids.Select((id, t) => t < prompt ? X : id).ToArray());
        }).ToArray();
    }

    private static int[] Separated(TokenizedSequence document) => document.InputIds[^1] == Eos ? document.InputIds : [.. document.InputIds, Eos];

    /// <summary>Each block's tokens grouped into its per-document segments, checking positions and labels on the way.</summary>
    private static List<(int Document, int[] Ids)> Segments(IReadOnlyList<PackedBlock> blocks, TokenizedSequence[] documents, int blockSize)
    {
        var segments = new List<(int, int[])>();
        foreach (var block in blocks)
        {
            Assert.Equal(blockSize, block.InputIds.Length);
            for (int t = 0; t < blockSize;)
            {
                int document = block.DocumentIds[t];
                if (document < 0)
                {
                    Assert.All(block.DocumentIds[t..], d => Assert.Equal(-1, d));
                    Assert.All(block.InputIds[t..], id => Assert.Equal(Pad, id));
                    Assert.All(block.Labels[t..], label => Assert.Equal(X, label));
                    break;
                }
                int end = t;
                while (end < blockSize && block.DocumentIds[end] == document) end++;
                Assert.Equal(Enumerable.Range(0, end - t), block.PositionIds[t..end]);
                Assert.Equal(X, block.Labels[t]);
                segments.Add((document, block.InputIds[t..end]));
                t = end;
            }
        }
        return segments;
    }

    [Fact]
    public void WrappedPackingKeepsEveryTokenInOrderWithRestartingPositions()
    {
        var documents = RandomDocuments(40, 30, seed: 5);
        var result = SequencePacker.Pack(documents, new PackingOptions(16, Eos, Pad));
        int total = documents.Sum(d => Separated(d).Length);
        Assert.Equal((total + 15) / 16, result.Blocks.Count);
        Assert.Equal((0, 0), (result.TruncatedDocuments, result.DroppedTokens));

        var segments = Segments(result.Blocks, documents, 16);
        // Concatenating the segments gives back the documents, each followed by one EOS, in order: nothing lost or duplicated.
        Assert.Equal(documents.SelectMany(Separated), segments.SelectMany(s => s.Ids));
        Assert.Equal(documents.SelectMany((d, i) => Enumerable.Repeat(i, Separated(d).Length)), segments.SelectMany(s => Enumerable.Repeat(s.Document, s.Ids.Length)));
        // Only the last block has padding.
        Assert.All(result.Blocks.SkipLast(1), b => Assert.DoesNotContain(-1, b.DocumentIds));
    }

    [Fact]
    public void WrappedPackingKeepsLabelsExceptAtSegmentStarts()
    {
        TokenizedSequence[] documents = [new([1, 2, 3], [X, 2, 3]), new([4, 5, 6, 7, 8], [4, 5, 6, 7, 8])];
        var blocks = SequencePacker.Pack(documents, new PackingOptions(5, Eos, Pad)).Blocks;
        Assert.Equal(2, blocks.Count);
        Assert.Equal([1, 2, 3, Eos, 4], blocks[0].InputIds);
        Assert.Equal([X, 2, 3, Eos, X], blocks[0].Labels);
        Assert.Equal([0, 1, 2, 3, 0], blocks[0].PositionIds);
        Assert.Equal([0, 0, 0, 0, 1], blocks[0].DocumentIds);
        Assert.Equal([5, 6, 7, 8, Eos], blocks[1].InputIds);
        Assert.Equal([X, 6, 7, 8, Eos], blocks[1].Labels);
        Assert.Equal([0, 1, 2, 3, 4], blocks[1].PositionIds);
    }

    [Fact]
    public void BestFitDecreasingNeverSplitsADocument()
    {
        // At most 15 tokens plus the separator: every document fits a block of 16.
        var documents = RandomDocuments(60, 15, seed: 9);
        var result = SequencePacker.Pack(documents, new PackingOptions(16, Eos, Pad) { Strategy = PackingStrategy.BestFitDecreasing });
        Assert.Equal((0, 0), (result.TruncatedDocuments, result.DroppedTokens));
        var segments = Segments(result.Blocks, documents, 16);
        // Each document appears exactly once, whole.
        Assert.Equal(Enumerable.Range(0, documents.Length), segments.Select(s => s.Document).Order());
        Assert.All(segments, s => Assert.Equal(Separated(documents[s.Document]), s.Ids));
        int total = documents.Sum(d => Separated(d).Length);
        Assert.InRange(result.Blocks.Count, (total + 15) / 16, (total + 15) / 16 + 2);
    }

    [Fact]
    public void BestFitDecreasingCountsWhatItTruncates()
    {
        TokenizedSequence[] documents = [new([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]), new([7], [7])];
        var result = SequencePacker.Pack(documents, new PackingOptions(4, Eos, Pad) { Strategy = PackingStrategy.BestFitDecreasing });
        Assert.Equal((1, 3), (result.TruncatedDocuments, result.DroppedTokens));
        Assert.Equal([1, 2, 3, 4], result.Blocks[0].InputIds);
        Assert.Equal([7, Eos, Pad, Pad], result.Blocks[1].InputIds);
    }

    [Fact]
    public void PackedBlocksBatchWithPositionsDocumentsAndAMaskFromPadding()
    {
        TokenizedSequence[] documents = [new([1, 2], [1, 2]), new([3, 4, 5], [3, 4, 5])];
        var blocks = SequencePacker.Pack(documents, new PackingOptions(4, Eos, Pad)).Blocks;
        var batch = BatchCollator.Packed(blocks);
        Assert.Equal((2, 4), (batch.Tokens.Rows, batch.Tokens.Length));
        Assert.Equal([1, 2, Eos, 3, 4, 5, Eos, Pad], batch.Tokens.InputIds);
        Assert.Equal([0, 1, 2, 0, 0, 1, 2, 0], batch.PositionIds!);
        Assert.Equal([0, 0, 0, 1, 1, 1, 1, -1], batch.DocumentIds!);
        Assert.Equal([1f, 1, 1, 1, 1, 1, 1, 0], batch.Tokens.AttentionMask);
    }
}
