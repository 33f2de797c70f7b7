using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Models.Generation;

/// <summary>
/// Keys and values of every layer for a batch of sequences being generated, preallocated to a fixed capacity so
/// decoding allocates nothing per token. Keys are stored transposed ([batch, kv width, capacity], see
/// <see cref="Ops.CachedAttention"/>) and the capacity is padded to whole 32-key tiles. Also tracks the key padding
/// mask and each row's next position id, so left-padded prompts continue at cumsum(mask) − 1 exactly as a
/// teacher-forced forward numbers them.
/// </summary>
public sealed class KvCache
{
    private readonly Tensor[] keys, values;
    private readonly float[] mask;
    private readonly int[] nextPosition;

    /// <summary>Rows (sequences) in the cache.</summary>
    public int Batch { get; }
    /// <summary>Positions each row can hold (prompt + new tokens, padding included; rounded up to 32).</summary>
    public int Capacity { get; }
    /// <summary>Positions filled so far (the same for every row; padding counts).</summary>
    public int Length { get; private set; }

    /// <summary>An empty cache for <paramref name="batch"/> sequences of up to <paramref name="capacity"/> positions.</summary>
    public KvCache(ModelConfig config, int batch, int capacity) : this(config.Layers, batch, capacity, config.KvHeads * config.HeadDim) { }

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

    /// <summary>Stores layer <paramref name="layer"/>'s keys and values [batch, time, width] for the current step.</summary>
    public void Write(int layer, Tensor k, Tensor v)
    {
        int time = k.Dim(1), width = k.Dim(2);
        var ks = k.Span; var kt = keys[layer].Span;
        for (int b = 0; b < Batch; b++)
        {
            v.Span.Slice(b * time * width, time * width).CopyTo(values[layer].Span.Slice((b * Capacity + Length) * width));
            for (int t = 0; t < time; t++)
                for (int c = 0; c < width; c++)
                    kt[(b * width + c) * Capacity + Length + t] = ks[(b * time + t) * width + c];
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
        int width = keys[0].Dim(1);
        var copy = new KvCache(keys.Length, rows.Length, capacity, width) { Length = Length };
        for (int i = 0; i < rows.Length; i++)
        {
            int r = rows[i];
            for (int l = 0; l < keys.Length; l++)
            {
                for (int c = 0; c < width; c++)
                    keys[l].Span.Slice((r * width + c) * Capacity, Length).CopyTo(copy.keys[l].Span.Slice((i * width + c) * copy.Capacity));
                values[l].Span.Slice(r * Capacity * width, Length * width).CopyTo(copy.values[l].Span.Slice(i * copy.Capacity * width));
            }
            mask.AsSpan(r * Capacity, Length).CopyTo(copy.mask.AsSpan(i * copy.Capacity));
            copy.nextPosition[i] = nextPosition[r];
        }
        return copy;
    }

    private KvCache(int layers, int batch, int capacity, int width)
    {
        Batch = batch;
        Capacity = (capacity + 31) / 32 * 32;
        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (int l = 0; l < layers; l++)
        {
            keys[l] = Tensor.Zeros(batch, width, Capacity).Persist();
            values[l] = Tensor.Zeros(batch, Capacity, width).Persist();
        }
        mask = new float[batch * Capacity];
        nextPosition = new int[batch];
    }
}
