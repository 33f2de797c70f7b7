using Reins.Tensors;

namespace Reins.Models.Transformers;

/// <summary>
/// Keys and values of every layer for a batch of sequences being generated, preallocated to a fixed capacity so
/// decoding allocates nothing per token. Keys and values are stored head-major, [batch, kv heads, capacity, head dim]
/// (see <see cref="Ops.CachedAttention"/>). Also tracks the key padding
/// mask and each row's next position id, so left-padded prompts continue at cumsum(mask) − 1 exactly as a
/// teacher-forced forward numbers them. Its storage is pooled: dispose the cache to give it back.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] keys, values;
    private readonly float[] mask;
    private readonly int[] nextPosition;
    private readonly int kvHeads, headDim;

    /// <summary>Rows (sequences) in the cache.</summary>
    public int Batch { get; }
    /// <summary>Positions each row can hold (prompt + new tokens, padding included).</summary>
    public int Capacity { get; }
    /// <summary>Positions filled so far (the same for every row; padding counts).</summary>
    public int Length { get; private set; }

    /// <summary>An empty cache for <paramref name="batch"/> sequences of up to <paramref name="capacity"/> positions.</summary>
    public KvCache(ModelConfig config, int batch, int capacity) : this(config.Layers, batch, capacity, config.KvHeads, config.HeadDim) { }

    /// <summary>The key padding mask [batch·capacity] (1 = real token).</summary>
    public ReadOnlySpan<float> Mask => mask;

    /// <summary>
    /// Registers <paramref name="time"/> new positions per row (mask [batch·time], empty = all real) and returns
    /// their position ids. Call once per forward, before the layers write their keys.
    /// </summary>
    public int[] BeginStep(int time, ReadOnlySpan<float> newMask)
    {
        if (Length + time > Capacity)
            throw new InvalidOperationException($"KV cache: {Length} + {time} positions exceed its capacity of {Capacity}.");
        var positions = new int[Batch * time];
        for (int b = 0; b < Batch; b++)
            for (int t = 0; t < time; t++)
            {
                bool real = newMask.IsEmpty || newMask[b * time + t] != 0;
                mask[b * Capacity + Length + t] = real ? 1 : 0;
                positions[b * time + t] = real ? nextPosition[b]++ : 0;
            }
        return positions;
    }

    /// <summary>Stores layer <paramref name="layer"/>'s keys and values [batch, time, kv heads·head dim] for the current step.</summary>
    public void Write(int layer, Tensor k, Tensor v)
    {
        int time = k.Dim(1), width = kvHeads * headDim;
        var ks = k.Span; var vs = v.Span; var kc = keys[layer].Span; var vc = values[layer].Span;
        for (int b = 0; b < Batch; b++)
            for (int t = 0; t < time; t++)
                for (int h = 0; h < kvHeads; h++)
                {
                    int from = (b * time + t) * width + h * headDim, to = ((b * kvHeads + h) * Capacity + Length + t) * headDim;
                    ks.Slice(from, headDim).CopyTo(kc.Slice(to));
                    vs.Slice(from, headDim).CopyTo(vc.Slice(to));
                }
    }

    /// <summary>Attention of the current step's queries over everything cached so far, for layer <paramref name="layer"/>.</summary>
    public Tensor Attend(int layer, Tensor q, int time, int heads, int kvHeads) =>
        Ops.CachedAttention(q, keys[layer], values[layer], Length + time, heads, kvHeads, mask);

    /// <summary>Commits the step: the positions registered by <see cref="BeginStep"/> become part of the cache.</summary>
    public void EndStep(int time) => Length += time;

    /// <summary>
    /// A new cache whose row i is a copy of this cache's row <paramref name="rows"/>[i], with room for
    /// <paramref name="capacity"/> positions: n samples per prompt share one prefill this way.
    /// </summary>
    public KvCache Select(ReadOnlySpan<int> rows, int capacity)
    {
        if (capacity < Length) throw new ArgumentOutOfRangeException(nameof(capacity), $"KV cache: capacity {capacity} is below the {Length} cached positions.");
        var copy = new KvCache(keys.Length, rows.Length, capacity, kvHeads, headDim) { Length = Length };
        for (int i = 0; i < rows.Length; i++)
        {
            int r = rows[i];
            for (int l = 0; l < keys.Length; l++)
                for (int h = 0; h < kvHeads; h++)
                {
                    int from = (r * kvHeads + h) * Capacity * headDim, to = (i * kvHeads + h) * copy.Capacity * headDim;
                    keys[l].Span.Slice(from, Length * headDim).CopyTo(copy.keys[l].Span.Slice(to));
                    values[l].Span.Slice(from, Length * headDim).CopyTo(copy.values[l].Span.Slice(to));
                }
            mask.AsSpan(r * Capacity, Length).CopyTo(copy.mask.AsSpan(i * copy.Capacity));
            copy.nextPosition[i] = nextPosition[r];
        }
        return copy;
    }

    /// <summary>
    /// A new cache of <paramref name="rows"/> (each a row of some cache of the same model), with room for
    /// <paramref name="room"/> more positions: each row's positions from its first real one on, placed so that every row
    /// ends at the new cache's <see cref="Length"/>, the longest of them. Continuous batching rebuilds its running batch
    /// this way as rows join (from their own prefill) and leave (finished), and padding no row needs any more is dropped.
    /// A row's position ids go with it, so its attention and its next positions are as they were.
    /// </summary>
    public static KvCache Gather(IReadOnlyList<(KvCache Cache, int Row)> rows, int room)
    {
        if (rows.Count == 0) throw new ArgumentException("KV cache: nothing to gather.", nameof(rows));
        var shape = rows[0].Cache;
        var spans = new (int First, int Used)[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            var (cache, r) = rows[i];
            if (cache.keys.Length != shape.keys.Length || cache.kvHeads != shape.kvHeads || cache.headDim != shape.headDim)
                throw new ArgumentException("KV cache: rows of caches of different models cannot be gathered.", nameof(rows));
            int first = cache.mask.AsSpan(r * cache.Capacity, cache.Length).IndexOf(1f);
            if (first < 0) first = cache.Length;
            spans[i] = (first, cache.Length - first);
        }
        ArgumentOutOfRangeException.ThrowIfNegative(room);
        int length = spans.Max(s => s.Used), capacity = length + room;
        var copy = new KvCache(shape.keys.Length, rows.Count, capacity, shape.kvHeads, shape.headDim) { Length = length };
        int d = shape.headDim;
        for (int i = 0; i < rows.Count; i++)
        {
            var (cache, r) = rows[i];
            var (first, used) = spans[i];
            int offset = length - used;
            for (int l = 0; l < copy.keys.Length; l++)
                for (int h = 0; h < copy.kvHeads; h++)
                {
                    int from = ((r * cache.kvHeads + h) * cache.Capacity + first) * d, to = (i * copy.kvHeads + h) * capacity * d;
                    // The padding ahead of the row is masked, but attention still weighs its values by 0: they must be finite.
                    copy.keys[l].Span.Slice(to, offset * d).Clear();
                    copy.values[l].Span.Slice(to, offset * d).Clear();
                    cache.keys[l].Span.Slice(from, used * d).CopyTo(copy.keys[l].Span.Slice(to + offset * d));
                    cache.values[l].Span.Slice(from, used * d).CopyTo(copy.values[l].Span.Slice(to + offset * d));
                }
            cache.mask.AsSpan(r * cache.Capacity + first, used).CopyTo(copy.mask.AsSpan(i * capacity + offset));
            copy.nextPosition[i] = cache.nextPosition[r];
        }
        return copy;
    }

    private KvCache(int layers, int batch, int capacity, int kvHeads, int headDim)
    {
        Batch = batch;
        Capacity = capacity;
        (this.kvHeads, this.headDim) = (kvHeads, headDim);
        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (int l = 0; l < layers; l++)
        {
            // Left uninitialised: attention reads only positions below Length, and every one of those is written first.
            keys[l] = Tensor.RentUninitialized(batch, kvHeads, Capacity, headDim);
            values[l] = Tensor.RentUninitialized(batch, kvHeads, Capacity, headDim);
        }
        mask = new float[batch * Capacity];
        nextPosition = new int[batch];
    }

    /// <summary>Returns the keys and values to the buffer pool; the cache must not be used afterwards.</summary>
    public void Dispose()
    {
        foreach (var t in keys.Concat(values)) t.ReturnToPool();
    }
}
