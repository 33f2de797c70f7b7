namespace Reins.Feedback.Sampling;

/// <summary>
/// Hands out dataset indices in batches, epoch after epoch, each epoch in its own seeded order (or in file order
/// without shuffling). The order depends only on the seed, the epoch and the dataset size, never on threads or
/// timing; <see cref="Cursor"/> and <see cref="Restore"/> resume exactly where a run stopped.
/// </summary>
public sealed class DataSampler
{
    private readonly bool shuffle;
    private int[] order;

    /// <summary>A sampler over <paramref name="count"/> items, starting at epoch 0.</summary>
    public DataSampler(int count, ulong seed, bool shuffle = true)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "a sampler needs at least one item.");
        (Count, Seed, this.shuffle) = (count, seed, shuffle);
        order = OrderOf(0);
    }

    /// <summary>Dataset size.</summary>
    public int Count { get; }

    /// <summary>The seed of every epoch's order.</summary>
    public ulong Seed { get; }

    /// <summary>Current 0-based epoch.</summary>
    public int Epoch { get; private set; }

    /// <summary>Items of the current epoch already handed out.</summary>
    public int Position { get; private set; }

    /// <summary>The state to save with a checkpoint.</summary>
    public DataCursor Cursor => new(Seed, Count, Epoch, Position);

    /// <summary>The visiting order of an epoch.</summary>
    public int[] OrderOf(int epoch) => shuffle ? Permutation.ForEpoch(Count, Seed, epoch) : Enumerable.Range(0, Count).ToArray();

    /// <summary>
    /// The next indices of the current epoch: <paramref name="batchSize"/> of them, or what remains at the epoch's end,
    /// unless <paramref name="dropLast"/> skips that remainder (as a DataLoader's <c>drop_last</c>). The next call after
    /// an epoch is finished starts the next one.
    /// </summary>
    public int[] NextBatch(int batchSize, bool dropLast = false)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be positive.");
        if (dropLast && batchSize > Count) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"with dropLast a batch of {batchSize} never fits {Count} items.");
        if (Position == Count || (dropLast && Count - Position < batchSize)) StartEpoch(Epoch + 1);
        int take = Math.Min(batchSize, Count - Position);
        var batch = order[Position..(Position + take)];
        Position += take;
        return batch;
    }

    /// <summary>Moves to a saved position; the cursor must come from a sampler with the same seed and dataset size.</summary>
    public void Restore(DataCursor cursor)
    {
        if (cursor.Seed != Seed || cursor.Count != Count)
            throw new ArgumentException($"The cursor is for seed {cursor.Seed} over {cursor.Count} items; this sampler has seed {Seed} over {Count}, so the order would differ.", nameof(cursor));
        if (cursor.Epoch < 0 || cursor.Position < 0 || cursor.Position > Count)
            throw new ArgumentOutOfRangeException(nameof(cursor), cursor, "epoch and position out of range.");
        StartEpoch(cursor.Epoch);
        Position = cursor.Position;
    }

    private void StartEpoch(int epoch)
    {
        if (epoch != Epoch) order = OrderOf(epoch);
        Epoch = epoch;
        Position = 0;
    }
}
