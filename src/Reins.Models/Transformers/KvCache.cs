using Reins.Tensors;

namespace Reins.Models.Transformers;

/// <summary>
/// Keys and values of every layer for a batch of sequences being generated, preallocated to a fixed capacity so
/// decoding allocates nothing per token. Keys and values are stored head-major, [batch, kv heads, capacity, head dim]
/// (see <see cref="Ops.CachedAttention"/>). Also tracks the key padding
/// mask and each row's next position id, so left-padded prompts continue at cumsum(mask) − 1 exactly as a
/// teacher-forced forward numbers them. Its storage is pooled: dispose the cache to give it back. A bf16 cache
/// stores keys and values rounded to bfloat16 (half the memory, half the bytes a decode step reads).
/// </summary>
public sealed class KvCache : IDisposable
{
    // Float32 storage, or with Bf16 the bfloat16 arrays; one of the pairs is null.
    private readonly Tensor[]? keys, values;
    private readonly ushort[][]? keys16, values16;
    private readonly int layers;
    private readonly float[] mask;
    private readonly int[] nextPosition;
    private readonly int kvHeads, headDim;

    /// <summary>Rows (sequences) in the cache.</summary>
    public int Batch { get; }
    /// <summary>Positions each row can hold (prompt + new tokens, padding included).</summary>
    public int Capacity { get; }
    /// <summary>Positions filled so far (the same for every row; padding counts).</summary>
    public int Length { get; private set; }

    /// <summary>Whether keys and values are stored as bfloat16.</summary>
    public bool Bf16 => keys16 is not null;

    /// <summary>An empty cache for <paramref name="batch"/> sequences of up to <paramref name="capacity"/> positions, float32 or <paramref name="bf16"/>.</summary>
    public KvCache(ModelConfig config, int batch, int capacity, bool bf16 = false) : this(config.Layers, batch, capacity, config.KvHeads, config.HeadDim, bf16) { }

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
        var ks = k.Span; var vs = v.Span;
        for (int b = 0; b < Batch; b++)
            for (int t = 0; t < time; t++)
                for (int h = 0; h < kvHeads; h++)
                {
                    int from = (b * time + t) * width + h * headDim, to = ((b * kvHeads + h) * Capacity + Length + t) * headDim;
                    if (keys16 is null)
                    {
                        ks.Slice(from, headDim).CopyTo(keys![layer].Span.Slice(to));
                        vs.Slice(from, headDim).CopyTo(values![layer].Span.Slice(to));
                        continue;
                    }
                    Tensors.Kernels.Bf16.FromFloat(ks.Slice(from, headDim), keys16[layer].AsSpan(to, headDim));
                    Tensors.Kernels.Bf16.FromFloat(vs.Slice(from, headDim), values16![layer].AsSpan(to, headDim));
                }
    }

    // Copies count positions of layer's keys and values from index from of this cache to index at of another (of the same storage).
    private void CopyRun(int layer, int from, KvCache to, int at, int count)
    {
        if (keys16 is null)
        {
            keys![layer].Span.Slice(from, count).CopyTo(to.keys![layer].Span.Slice(at));
            values![layer].Span.Slice(from, count).CopyTo(to.values![layer].Span.Slice(at));
        }
        else
        {
            keys16[layer].AsSpan(from, count).CopyTo(to.keys16![layer].AsSpan(at));
            values16![layer].AsSpan(from, count).CopyTo(to.values16![layer].AsSpan(at));
        }
    }

    // Zeroes count values of layer's keys and values from index at.
    private void ClearRun(int layer, int at, int count)
    {
        if (keys16 is null)
        {
            keys![layer].Span.Slice(at, count).Clear();
            values![layer].Span.Slice(at, count).Clear();
        }
        else
        {
            keys16[layer].AsSpan(at, count).Clear();
            values16![layer].AsSpan(at, count).Clear();
        }
    }

    /// <summary>Attention of the current step's queries over everything cached so far, for layer <paramref name="layer"/>.</summary>
    public Tensor Attend(int layer, Tensor q, int time, int heads, int kvHeads) => keys16 is null
        ? Ops.CachedAttention(q, keys![layer], values![layer], Length + time, heads, kvHeads, mask)
        : Ops.CachedAttention(q, keys16[layer].AsSpan(0, StorageSize), values16![layer].AsSpan(0, StorageSize), Capacity, Length + time, heads, kvHeads, mask);

    // Values per layer's keys (a pooled bf16 array may be longer).
    private int StorageSize => Batch * kvHeads * Capacity * headDim;

    /// <summary>Commits the step: the positions registered by <see cref="BeginStep"/> become part of the cache.</summary>
    public void EndStep(int time) => Length += time;

    /// <summary>
    /// A new cache whose row i is a copy of this cache's row <paramref name="rows"/>[i], with room for
    /// <paramref name="capacity"/> positions: n samples per prompt share one prefill this way.
    /// </summary>
    public KvCache Select(ReadOnlySpan<int> rows, int capacity)
    {
        if (capacity < Length) throw new ArgumentOutOfRangeException(nameof(capacity), $"KV cache: capacity {capacity} is below the {Length} cached positions.");
        var copy = new KvCache(layers, rows.Length, capacity, kvHeads, headDim, Bf16) { Length = Length };
        for (int i = 0; i < rows.Length; i++)
        {
            int r = rows[i];
            for (int l = 0; l < layers; l++)
                for (int h = 0; h < kvHeads; h++)
                    CopyRun(l, (r * kvHeads + h) * Capacity * headDim, copy, (i * kvHeads + h) * copy.Capacity * headDim, Length * headDim);
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
            if (cache.layers != shape.layers || cache.kvHeads != shape.kvHeads || cache.headDim != shape.headDim || cache.Bf16 != shape.Bf16)
                throw new ArgumentException("KV cache: rows of caches of different models (or storage) cannot be gathered.", nameof(rows));
            int first = cache.mask.AsSpan(r * cache.Capacity, cache.Length).IndexOf(1f);
            if (first < 0) first = cache.Length;
            spans[i] = (first, cache.Length - first);
        }
        ArgumentOutOfRangeException.ThrowIfNegative(room);
        int length = spans.Max(s => s.Used), capacity = length + room;
        var copy = new KvCache(shape.layers, rows.Count, capacity, shape.kvHeads, shape.headDim, shape.Bf16) { Length = length };
        int d = shape.headDim;
        for (int i = 0; i < rows.Count; i++)
        {
            var (cache, r) = rows[i];
            var (first, used) = spans[i];
            int offset = length - used;
            for (int l = 0; l < copy.layers; l++)
                for (int h = 0; h < copy.kvHeads; h++)
                {
                    int from = ((r * cache.kvHeads + h) * cache.Capacity + first) * d, to = (i * copy.kvHeads + h) * capacity * d;
                    // The padding ahead of the row is masked, but attention still weighs its values by 0: they must be finite.
                    copy.ClearRun(l, to, offset * d);
                    cache.CopyRun(l, from, copy, to + offset * d, used * d);
                }
            cache.mask.AsSpan(r * cache.Capacity + first, used).CopyTo(copy.mask.AsSpan(i * capacity + offset));
            copy.nextPosition[i] = cache.nextPosition[r];
        }
        return copy;
    }

    private KvCache(int layers, int batch, int capacity, int kvHeads, int headDim, bool bf16)
    {
        Batch = batch;
        Capacity = capacity;
        (this.layers, this.kvHeads, this.headDim) = (layers, kvHeads, headDim);
        // Left uninitialised: attention reads only positions below Length, and every one of those is written first.
        if (bf16)
        {
            keys16 = new ushort[layers][];
            values16 = new ushort[layers][];
            for (int l = 0; l < layers; l++)
            {
                // Pooled as the float32 storage is: a generation makes several caches (prefill, per-sample copies, gathers).
                keys16[l] = System.Buffers.ArrayPool<ushort>.Shared.Rent(batch * kvHeads * capacity * headDim);
                values16[l] = System.Buffers.ArrayPool<ushort>.Shared.Rent(batch * kvHeads * capacity * headDim);
            }
        }
        else
        {
            keys = new Tensor[layers];
            values = new Tensor[layers];
            for (int l = 0; l < layers; l++)
            {
                keys[l] = Tensor.RentUninitialized(batch, kvHeads, Capacity, headDim);
                values[l] = Tensor.RentUninitialized(batch, kvHeads, Capacity, headDim);
            }
        }
        mask = new float[batch * Capacity];
        nextPosition = new int[batch];
    }

    /// <summary>Returns the keys and values to the buffer pool; the cache must not be used afterwards.</summary>
    public void Dispose()
    {
        if (keys is not null) foreach (var t in keys.Concat(values!)) t.ReturnToPool();
        if (keys16 is not null) foreach (var a in keys16.Concat(values16!)) System.Buffers.ArrayPool<ushort>.Shared.Return(a);
    }
}
