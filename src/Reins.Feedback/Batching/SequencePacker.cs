using Reins.Feedback.Tokenization;

namespace Reins.Feedback.Batching;

/// <summary>
/// SFT packing: documents laid end to end, separated by EOS, in fixed-length blocks without padding waste. Each
/// token carries its document id and a position counted from its document's start, so attention can be kept within a
/// document (TRL's padding-free packing) and positions match what the model sees unpacked.
/// </summary>
public static class SequencePacker
{
    private const int Ignore = TokenizedSequence.IgnoreIndex;

    /// <summary>Packs <paramref name="documents"/>; document ids are their indices in the list.</summary>
    public static PackingResult Pack(IReadOnlyList<TokenizedSequence> documents, PackingOptions options)
    {
        if (options.BlockSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BlockSize, "BlockSize must be positive.");
        var separated = documents.Select(d => WithSeparator(d, options.EosId)).ToArray();
        return options.Strategy switch
        {
            PackingStrategy.Wrapped => Wrapped(separated, options),
            PackingStrategy.BestFitDecreasing => BestFitDecreasing(separated, options),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Strategy, "unknown packing strategy"),
        };
    }

    // The separator is learned when the document's end is (so the model learns to stop), ignored when it is not.
    private static TokenizedSequence WithSeparator(TokenizedSequence document, int eos) =>
        document.Length > 0 && document.InputIds[^1] == eos ? document
            : new TokenizedSequence([.. document.InputIds, eos], [.. document.Labels, document.Length > 0 && document.Labels[^1] != Ignore ? eos : Ignore]);

    private static PackingResult Wrapped(TokenizedSequence[] documents, PackingOptions options)
    {
        var blocks = new List<PackedBlock>();
        var block = new BlockBuilder(options);
        for (int d = 0; d < documents.Length; d++)
        {
            var document = documents[d];
            for (int offset = 0; offset < document.Length;)
            {
                int take = Math.Min(block.Free, document.Length - offset);
                block.Append(d, document.InputIds.AsSpan(offset, take), document.Labels.AsSpan(offset, take));
                offset += take;
                if (block.Free == 0)
                {
                    blocks.Add(block.Build());
                    block = new BlockBuilder(options);
                }
            }
        }
        if (block.Free < options.BlockSize) blocks.Add(block.Build());
        return new PackingResult(blocks, 0, 0);
    }

    private static PackingResult BestFitDecreasing(TokenizedSequence[] documents, PackingOptions options)
    {
        int size = options.BlockSize, truncated = 0, dropped = 0;
        var builders = new List<BlockBuilder>();
        // (free space, block index): the first entry with free ≥ n is the fullest block a document of n tokens fits.
        var byFree = new SortedSet<(int Free, int Block)>();
        foreach (int d in Enumerable.Range(0, documents.Length).OrderByDescending(d => documents[d].Length).ThenBy(d => d))
        {
            var document = documents[d];
            int length = Math.Min(document.Length, size);
            if (length < document.Length)
            {
                truncated++;
                dropped += document.Length - length;
            }
            int target = -1;
            foreach (var entry in byFree.GetViewBetween((length, int.MinValue), (size, int.MaxValue)))
            {
                target = entry.Block;
                byFree.Remove(entry);
                break;
            }
            if (target < 0)
            {
                target = builders.Count;
                builders.Add(new BlockBuilder(options));
            }
            var block = builders[target];
            block.Append(d, document.InputIds.AsSpan(0, length), document.Labels.AsSpan(0, length));
            if (block.Free > 0) byFree.Add((block.Free, target));
        }
        return new PackingResult(builders.Select(b => b.Build()).ToArray(), truncated, dropped);
    }

    /// <summary>Fills one block segment by segment.</summary>
    private sealed class BlockBuilder
    {
        private readonly int[] ids, labels, positions, documents;
        private int used;

        public BlockBuilder(PackingOptions options)
        {
            ids = new int[options.BlockSize];
            labels = new int[options.BlockSize];
            positions = new int[options.BlockSize];
            documents = new int[options.BlockSize];
            Array.Fill(ids, options.PadId);
            Array.Fill(labels, Ignore);
            Array.Fill(documents, -1);
        }

        public int Free => ids.Length - used;

        public void Append(int document, ReadOnlySpan<int> segmentIds, ReadOnlySpan<int> segmentLabels)
        {
            segmentIds.CopyTo(ids.AsSpan(used));
            segmentLabels.CopyTo(labels.AsSpan(used));
            // Nothing earlier in the segment predicts its first token, and the token before it belongs to another
            // document: HF's DataCollatorWithFlattening ignores this label for the same reason.
            if (segmentIds.Length > 0) labels[used] = Ignore;
            for (int i = 0; i < segmentIds.Length; i++)
            {
                positions[used + i] = i;
                documents[used + i] = document;
            }
            used += segmentIds.Length;
        }

        public PackedBlock Build() => new(ids, labels, positions, documents);
    }
}
