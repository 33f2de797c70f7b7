using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Reins.Tensors.Kernels;

namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Fused scaled-dot-product attention with grouped-query heads. q [B, T, Hq·D]; k, v [B, S, Hkv·D] with S ≥ T
    /// (S > T when earlier keys come from a KV cache: query t sits at absolute position S − T + t).
    /// <paramref name="keyMask"/> [B·S] marks real (1) and padding (0) keys. A query that may attend to no key
    /// (a left-pad position) outputs zeros rather than NaN. Heads are read strided, so no transposes are made.
    /// <paramref name="segments"/> [B·T] (S = T), when given, confines each query to keys of its own segment: packed
    /// sequences, whose documents must each be one contiguous run. With <paramref name="recompute"/> the backward pass
    /// recomputes each block of probabilities from q and k (as FlashAttention does) instead of keeping [B, H, T, S] from
    /// the forward: memory for one block per thread, one more Q·Kᵀ product per block, and the same gradients bit for
    /// bit (the recomputation repeats the forward's operations). Without a gradient to record, no probabilities are kept.
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, int kvHeads, ReadOnlySpan<float> keyMask, bool causal, ReadOnlySpan<int> segments = default, bool recompute = false)
    {
        if (q.Rank != 3 || k.Rank != 3 || v.Rank != 3)
            throw new ArgumentException($"attention: q, k, v must be [B, T, H·D]; got {Tensor.Format(q.Shape)}, {Tensor.Format(k.Shape)}, {Tensor.Format(v.Shape)}.");
        int batch = q.Dim(0), t = q.Dim(1), s = k.Dim(1), d = q.Dim(2) / heads;
        if (heads % kvHeads != 0 || d * heads != q.Dim(2) || k.Dim(2) != kvHeads * d || !k.Shape.AsSpan().SequenceEqual(v.Shape) || k.Dim(0) != batch || s < t)
            throw new ArgumentException($"attention: q {Tensor.Format(q.Shape)} with {heads} heads and k {Tensor.Format(k.Shape)} / v {Tensor.Format(v.Shape)} with {kvHeads} kv heads are inconsistent.");
        return Attend(new(q, 0, t, 0, q.Dim(2)), new(k, 0, s, 0, k.Dim(2)), new(v, 0, s, 0, v.Dim(2)), batch, t, s, heads, kvHeads, d, keyMask, causal, segments, recompute);
    }

    /// <summary>
    /// Attention on the output of a fused q/k/v projection (GPT-2's c_attn): <paramref name="qkv"/> [B, T, 3·H·D] holds
    /// q, k and v side by side on its last axis and is read in place, so neither the three slices nor their gradients
    /// are copied. Returns [B, queries, H·D] for each row's last <paramref name="queries"/> positions (0 = all T), which
    /// attend to all T keys; otherwise as <see cref="Attention(Tensor, Tensor, Tensor, int, int, ReadOnlySpan{float}, bool, ReadOnlySpan{int})"/>.
    /// </summary>
    public static Tensor Attention(Tensor qkv, int heads, ReadOnlySpan<float> keyMask, bool causal, ReadOnlySpan<int> segments = default, int queries = 0, bool recompute = false)
    {
        if (qkv.Rank != 3 || qkv.Dim(2) % (3 * heads) != 0)
            throw new ArgumentException($"attention: fused qkv must be [B, T, 3·H·D] with {heads} heads; got {Tensor.Format(qkv.Shape)}.");
        int batch = qkv.Dim(0), s = qkv.Dim(1), c = qkv.Dim(2) / 3, t = queries == 0 ? s : queries;
        if (queries < 0 || queries > s)
            throw new ArgumentOutOfRangeException(nameof(queries), $"attention: {queries} query positions of {s}.");
        return Attend(new(qkv, 0, s, s - t, 3 * c), new(qkv, c, s, 0, 3 * c), new(qkv, 2 * c, s, 0, 3 * c), batch, t, s, heads, heads, c / heads, keyMask, causal, segments, recompute);
    }

    // A matrix inside a tensor's storage: row r of sequence b is row b·BatchRows + First + r, Column floats in, Ld floats
    // apart. Separate q, k and v tensors are plain [B·T, H·D] matrices; a fused projection holds all three at one Ld.
    private readonly record struct Operand(Tensor Source, int Column, int BatchRows, int First, int Ld)
    {
        public long Row(int b, int r) => ((long)b * BatchRows + First + r) * Ld + Column;
    }

    private static unsafe Tensor Attend(Operand q, Operand k, Operand v, int batch, int t, int s, int heads, int kvHeads, int d,
        ReadOnlySpan<float> keyMask, bool causal, ReadOnlySpan<int> segments, bool recompute)
    {
        if (!keyMask.IsEmpty && keyMask.Length != batch * s)
            throw new ArgumentException($"attention: key mask has {keyMask.Length} entries, expected B·S = {batch * s}.");
        var mask = MaskBias(keyMask);
        var firstKey = segments.IsEmpty ? null : SegmentStarts(segments, batch, t, s);
        int group = heads / kvHeads, ldy = heads * d;
        float scale = 1f / MathF.Sqrt(d);
        bool backward = Tape.IsRecording && (q.Source.RequiresGrad || k.Source.RequiresGrad || v.Source.RequiresGrad);
        // The probabilities are kept for the backward unless it recomputes them; otherwise each task scores one block at a time.
        var probs = backward && !recompute ? Tensor.Uninitialized([batch, heads, t, s]) : null;
        var y = Tensor.Uninitialized([batch, t, ldy]);
        float* qp = q.Source.Ptr, kp = k.Source.Ptr, vp = v.Source.Ptr, pp = probs is null ? null : probs.Ptr, yp = y.Ptr;

        // One task per (batch, kv head): the q heads sharing a kv head run together, so the backward's
        // accumulation into dK and dV never races and the result does not depend on the thread count.
        Engine.For(batch * kvHeads, task =>
        {
            int b = task / kvHeads, kh = task % kvHeads;
            var block = pp == null ? BufferPool.Rent(Math.Min(QueryBlock, t) * s) : null;
            fixed (float* scratch = block)
                AttendGroup(kh, group, t, s, d, qp + q.Row(b, 0), q.Ld, kp + k.Row(b, 0), vp + v.Row(b, 0), k.Ld,
                    pp == null ? scratch : pp + ((long)b * heads + kh * group) * t * s, pp == null, yp + (long)b * t * ldy, ldy, scale, causal, mask, b * s, firstKey, b * t);
            if (block is not null) BufferPool.Return(block);
        });
        if (!backward)
        {
            Tape.MarkForward(y, "attention");
            return y;
        }

        Tape.Record(y, "attention", () =>
        {
            float* dy = y.Grad!.Ptr;
            float* dq = q.Source.RequiresGrad ? q.Source.EnsureGrad().Ptr : null;
            float* dk = k.Source.RequiresGrad ? k.Source.EnsureGrad().Ptr : null;
            float* dv = v.Source.RequiresGrad ? v.Source.EnsureGrad().Ptr : null;
            // Saved probabilities and q, k, v packed as bf16 (Bf16SavedActivations) are read as they are.
            ushort* qPacked = q.Source.PackedPtr, kPacked = k.Source.PackedPtr, vPacked = v.Source.PackedPtr, pPacked = probs is null ? null : probs.PackedPtr;
            if (pPacked != null && qPacked != null && kPacked != null && vPacked != null)
                Backward<ushort, Bf16Storage>(qPacked, kPacked, vPacked, pPacked);
            else
                Backward<float, Fp32Storage>(q.Source.Ptr, k.Source.Ptr, v.Source.Ptr, probs is null ? null : probs.Ptr);

            void Backward<TW, TF>(TW* qp, TW* kp, TW* vp, TW* pp) where TW : unmanaged where TF : IStorageFormat<TW>
            {
                nint pq = (nint)qp, pk = (nint)kp, pv = (nint)vp, ppr = (nint)pp;
                Engine.For(batch * kvHeads, task =>
                {
                    TW* qp = (TW*)pq, kp = (TW*)pk, vp = (TW*)pv, pp = (TW*)ppr;
                    int b = task / kvHeads, kh = task % kvHeads;
                    long kOff = k.Row(b, 0) + kh * d, vOff = v.Row(b, 0) + kh * d;
                    var dScores = BufferPool.Rent(Math.Min(QueryBlock, t) * s);
                    // Recomputed probabilities (float32: recomputing runs only on float32 inputs), or a packed row widened.
                    var probsRow = pp == null ? BufferPool.Rent(Math.Min(QueryBlock, t) * s) : typeof(TW) == typeof(float) ? null : BufferPool.Rent(s);
                    fixed (float* ds = dScores, rp = probsRow)
                    {
                        for (int h = kh * group; h < (kh + 1) * group; h++)
                            for (int r0 = 0; r0 < t; r0 += QueryBlock)
                            {
                                // Query rows [r0, r0 + rows) and the keys they see; probabilities past those keys are 0.
                                int rows = Math.Min(QueryBlock, t - r0), keys = KeysSeen(r0 + rows, t, s, causal);
                                long qOff = q.Row(b, r0) + h * d, yOff = (long)(b * t + r0) * ldy + h * d;
                                TW* pb = pp != null ? pp + (((long)b * heads + h) * t + r0) * s : (TW*)rp;
                                if (pp == null)
                                    ScoreBlock((float*)qp + qOff, q.Ld, (float*)kp + kOff, k.Ld, rows, keys, r0, t, s, d, rp, scale, causal, mask, b * s, firstKey, b * t);
                                if (dv != null) Gemm.Multiply<TW, TF, float, Fp32Storage>(true, false, keys, d, rows, pb, s, dy + yOff, ldy, dv + vOff, v.Ld, true, 1); // dV += Pᵀ·dO
                                Gemm.Multiply<TW, TF>(false, true, rows, keys, d, dy + yOff, ldy, vp + vOff, v.Ld, ds, keys, false, 1);                                 // dP = dO·Vᵀ
                                for (int i = 0; i < rows; i++)                                                                                                        // dS = P ⊙ (dP − ⟨dP, P⟩) · scale
                                {
                                    ReadOnlySpan<float> pr;
                                    if (typeof(TW) == typeof(float)) pr = new ReadOnlySpan<float>((float*)pb + (long)i * s, keys);
                                    else
                                    {
                                        Bf16.ToFloat(new ReadOnlySpan<ushort>((ushort*)pb + (long)i * s, keys), new Span<float>(rp, keys));
                                        pr = new ReadOnlySpan<float>(rp, keys);
                                    }
                                    var dr = new Span<float>(ds + (long)i * keys, keys);
                                    float dot = TensorPrimitives.Dot(pr, dr);
                                    TensorPrimitives.Subtract(dr, dot, dr);
                                    TensorPrimitives.Multiply(dr, pr, dr);
                                    TensorPrimitives.Multiply(dr, scale, dr);
                                }
                                if (dq != null) Gemm.Multiply<TW, TF>(false, false, rows, d, keys, ds, keys, kp + kOff, k.Ld, dq + qOff, q.Ld, true, 1); // dQ += dS·K
                                if (dk != null) Gemm.Multiply<TW, TF>(true, false, keys, d, rows, ds, keys, qp + qOff, q.Ld, dk + kOff, k.Ld, true, 1); // dK += dSᵀ·Q
                            }
                    }
                    BufferPool.Return(dScores);
                    if (probsRow is not null) BufferPool.Return(probsRow);
                });
            }
        }, q.Source, k.Source == q.Source ? null : k.Source, v.Source == q.Source ? null : v.Source);
        return y;
    }

    /// <summary>
    /// Inference-only attention over a key/value cache, for generation: q [B, T, Hq·D] holds the newest T positions.
    /// The cache is head-major, keys and values [B, Hkv, capacity, D], so one head's history is one contiguous run of
    /// memory: a decode step reads the whole cache, and short strided rows (a [B, capacity, Hkv·D] layout) left the
    /// prefetchers idle at half the speed. <paramref name="keyLength"/> rows are valid per sequence, the newest T
    /// included, so query t sits at position keyLength − T + t. keyMask [B·capacity] marks real keys. Records no
    /// gradient: training recomputes attention with <see cref="Attention"/>.
    /// </summary>
    public static unsafe Tensor CachedAttention(Tensor q, Tensor keys, Tensor values, int keyLength, int heads, int kvHeads, ReadOnlySpan<float> keyMask)
    {
        int capacity = keys.Rank == 4 ? keys.Dim(2) : 0;
        if (keys.Rank != 4 || !keys.Shape.AsSpan().SequenceEqual(values.Shape) || keys.Dim(0) != q.Dim(0) || keys.Dim(1) != kvHeads || keys.Dim(3) * heads != q.Dim(2))
            throw new ArgumentException($"cached attention: q {Tensor.Format(q.Shape)} ({heads} heads), keys {Tensor.Format(keys.Shape)}, values {Tensor.Format(values.Shape)} ({kvHeads} kv heads) are inconsistent.");
        return CachedAttend<float, Fp32Storage>(q, keys.Ptr, values.Ptr, keys.Size, capacity, keyLength, heads, kvHeads, keyMask);
    }

    /// <summary>
    /// <see cref="CachedAttention(Tensor, Tensor, Tensor, int, int, int, ReadOnlySpan{float})"/> over a cache stored as
    /// bfloat16 (keys and values [B, Hkv, <paramref name="capacity"/>, D] each): half the memory and half the bytes a
    /// decode step reads; each value is widened to float32 in registers, and scores, softmax and sums stay float32.
    /// </summary>
    public static unsafe Tensor CachedAttention(Tensor q, ReadOnlySpan<ushort> keys, ReadOnlySpan<ushort> values, int capacity, int keyLength, int heads, int kvHeads, ReadOnlySpan<float> keyMask)
    {
        if (keys.Length != values.Length)
            throw new ArgumentException($"cached attention: {keys.Length} bf16 keys but {values.Length} values.");
        fixed (ushort* k = keys, v = values) return CachedAttend<ushort, Bf16Storage>(q, k, v, keys.Length, capacity, keyLength, heads, kvHeads, keyMask);
    }

    private static unsafe Tensor CachedAttend<TW, TF>(Tensor q, TW* kp, TW* vp, long cacheSize, int capacity, int keyLength, int heads, int kvHeads, ReadOnlySpan<float> keyMask)
        where TW : unmanaged where TF : IStorageFormat<TW>
    {
        int batch = q.Dim(0), t = q.Dim(1), d = q.Rank == 3 ? q.Dim(2) / heads : 0;
        if (q.Rank != 3 || d * heads != q.Dim(2) || heads % kvHeads != 0 || cacheSize != (long)batch * kvHeads * capacity * d
            || keyLength < t || keyLength > capacity || keyMask.Length != batch * capacity)
            throw new ArgumentException($"cached attention: q {Tensor.Format(q.Shape)} ({heads} heads), a cache of {cacheSize} values for {kvHeads} kv heads × {capacity} positions, {keyLength} keys and a mask of {keyMask.Length} are inconsistent.");
        if (Tape.IsRecording && q.RequiresGrad)
            throw new InvalidOperationException("cached attention is inference-only; it records no gradient. Use Attention for training or wrap generation in Tape.NoGrad().");
        var mask = MaskBias(keyMask);
        int group = heads / kvHeads, ldq = heads * d;
        float scale = 1f / MathF.Sqrt(d);
        var y = Tensor.Uninitialized([batch, t, heads * d]);
        float* qp = q.Ptr, yp = y.Ptr;
        nint kAddress = (nint)kp, vAddress = (nint)vp;
        // A decode step's heads share one scores buffer sized by the capacity, which stays put while keyLength grows a token
        // a step: one pooled buffer a call, not a fresh pinned allocation per head and step (the pool's sizes are exact).
        var decodeScores = t == 1 ? BufferPool.Rent(batch * kvHeads * capacity) : null;
        Engine.For(batch * kvHeads, task =>
        {
            int b = task / kvHeads;
            var scores = decodeScores ?? BufferPool.Rent(t * keyLength);
            fixed (float* own = scores)
            {
                float* sp = decodeScores is null ? own : own + (long)task * capacity;
                long block = (long)task * capacity * d;
                TW* kb = (TW*)kAddress + block, vb = (TW*)vAddress + block;
                for (int h = task % kvHeads * group; h < (task % kvHeads + 1) * group; h++)
                {
                    float* qb = qp + (long)b * t * ldq + h * d, yb = yp + (long)b * t * ldq + h * d;
                    if (t == 1)
                    {
                        AttendOneQuery<TW, TF>(qb, kb, vb, d, keyLength, sp, yb, scale, mask, b * capacity);
                        continue;
                    }
                    // A prefill (T > 1) multiplies whole blocks; the GEMM widens a bf16 history as it packs it.
                    Gemm.Multiply<TW, TF>(false, true, t, keyLength, d, qb, ldq, kb, d, sp, keyLength, false, 1);
                    for (int i = 0; i < t; i++)
                        MaskedSoftmaxRow(new Span<float>(sp + (long)i * keyLength, keyLength), scale, 0, keyLength - t + i, mask, b * capacity);
                    Gemm.Multiply<TW, TF>(false, false, t, d, keyLength, sp, keyLength, vb, d, yb, ldq, false, 1);
                }
            }
            if (decodeScores is null) BufferPool.Return(scores);
        });
        if (decodeScores is not null) BufferPool.Return(decodeScores);
        Tape.MarkForward(y, "cached_attention");
        return y;
    }

    // A decode step's single query against one head's cache (keys and values [keyLength, d], contiguous): a dot product
    // per key and an AXPY per value row, which at one query cost far less than two GEMM calls' set-up.
    private static unsafe void AttendOneQuery<TW, TF>(float* q, TW* keys, TW* values, int d, int keyLength, float* scores, float* y, float scale, float[]? mask, int maskOffset)
        where TW : unmanaged where TF : IStorageFormat<TW>
    {
        int dv = d / 16 * 16;
        for (int j = 0; j < keyLength; j++)
        {
            TW* k = keys + (long)j * d;
            var acc = Vector512<float>.Zero;
            for (int c = 0; c < dv; c += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(q + c), TF.Load16(k + c), acc);
            float dot = Vector512.Sum(acc);
            for (int c = dv; c < d; c++) dot = MathF.FusedMultiplyAdd(q[c], TF.Get(k + c), dot);
            scores[j] = dot;
        }
        MaskedSoftmaxRow(new Span<float>(scores, keyLength), scale, 0, keyLength - 1, mask, maskOffset);
        new Span<float>(y, d).Clear();
        for (int j = 0; j < keyLength; j++)
        {
            TW* v = values + (long)j * d;
            var p = Vector512.Create(scores[j]);
            for (int c = 0; c < dv; c += 16) Vector512.Store(Vector512.FusedMultiplyAdd(p, TF.Load16(v + c), Vector512.Load(y + c)), y + c);
            for (int c = dv; c < d; c++) y[c] = MathF.FusedMultiplyAdd(scores[j], TF.Get(v + c), y[c]);
        }
    }

    // The q heads of kv head kh in one sequence: probabilities into probs [group, t, s], or with blockScratch each block's
    // into the one [QueryBlock, s] buffer probs; outputs into y (ldy apart). qb, kb and vb point at the sequence's first
    // query, key and value rows; maskOffset is where its s keys start in mask, segmentOffset where its t queries start in firstKey.
    private static unsafe void AttendGroup(int kh, int group, int t, int s, int d, float* qb, int ldq, float* kb, float* vb, int ldk,
        float* probs, bool blockScratch, float* yb, int ldy, float scale, bool causal, float[]? mask, int maskOffset, int[]? firstKey, int segmentOffset)
    {
        kb += kh * d;
        vb += kh * d;
        for (int g = 0; g < group; g++)
        {
            int h = kh * group + g;
            float* qh = qb + h * d, yh = yb + h * d;
            for (int r0 = 0; r0 < t; r0 += QueryBlock)
            {
                int rows = Math.Min(QueryBlock, t - r0), keys = KeysSeen(r0 + rows, t, s, causal);
                float* pr = blockScratch ? probs : probs + ((long)g * t + r0) * s;
                ScoreBlock(qh + (long)r0 * ldq, ldq, kb, ldk, rows, keys, r0, t, s, d, pr, scale, causal, mask, maskOffset, firstKey, segmentOffset);
                Gemm.Multiply(false, false, rows, d, keys, pr, s, vb, ldk, yh + (long)r0 * ldy, ldy, false, 1);
            }
        }
    }

    // The probabilities [rows, s] (s apart) of query rows [r0, r0 + rows) of one head against its keys: scores Q·Kᵀ over
    // the keys they see, then a masked softmax per row. The forward and the backward's recomputation both call this, so
    // they compute the same values bit for bit.
    private static unsafe void ScoreBlock(float* qRows, int ldq, float* kHead, int ldk, int rows, int keys, int r0, int t, int s, int d, float* pr,
        float scale, bool causal, float[]? mask, int maskOffset, int[]? firstKey, int segmentOffset)
    {
        Gemm.Multiply(false, true, rows, keys, d, qRows, ldq, kHead, ldk, pr, s, false, 1);
        for (int i = 0; i < rows; i++)
            MaskedSoftmaxRow(new Span<float>(pr + (long)i * s, s), scale, firstKey?[segmentOffset + r0 + i] ?? 0, causal ? s - t + r0 + i : s - 1, mask, maskOffset);
    }

    // Causal attention works on blocks of query rows, each against only the keys its last row may see, so the masked
    // upper triangle of the score matrix (nearly half of it) is neither computed nor multiplied.
    private const int QueryBlock = 32;

    // Keys [0, result) that query rows [0, rowEnd) may attend to; query t sits at position s − T + t.
    private static int KeysSeen(int rowEnd, int t, int s, bool causal) => causal ? s - t + rowEnd : s;

    // For packed rows: the index of the first key of each query's segment, which must be one contiguous run.
    private static int[] SegmentStarts(ReadOnlySpan<int> segments, int batch, int t, int s)
    {
        if (s != t || segments.Length != batch * t)
            throw new ArgumentException($"attention: segment ids need S = T and B·T = {batch * t} entries; got {segments.Length} for S = {s}, T = {t}.");
        var first = new int[batch * t];
        for (int b = 0; b < batch; b++)
        {
            var seen = new HashSet<int>();
            for (int i = 0; i < t; i++)
            {
                int id = segments[b * t + i];
                bool continues = i > 0 && segments[b * t + i - 1] == id;
                if (!continues && !seen.Add(id))
                    throw new ArgumentException($"attention: segment {id} of row {b} is not contiguous (it resumes at position {i}).");
                first[b * t + i] = continues ? first[b * t + i - 1] : i;
            }
        }
        return first;
    }

    // The key mask as an additive bias (0 for a real key, −∞ for padding), so masking is one vector add per row; null
    // when every key is real.
    private static float[]? MaskBias(ReadOnlySpan<float> keyMask)
    {
        if (!keyMask.ContainsAnyExcept(1f)) return null;
        var bias = new float[keyMask.Length];
        for (int i = 0; i < bias.Length; i++) bias[i] = keyMask[i] == 0 ? float.NegativeInfinity : 0;
        return bias;
    }

    // Softmax of scale·row over the keys firstKey ≤ j ≤ lastKey that the mask (a bias from MaskBias) allows; every
    // other entry becomes 0.
    private static void MaskedSoftmaxRow(Span<float> row, float scale, int firstKey, int lastKey, float[]? mask, int maskOffset)
    {
        int n = Math.Min(lastKey + 1, row.Length);
        row[n..].Clear();
        row[..Math.Min(firstKey, n)].Clear();
        if (firstKey >= n) return;
        var live = row[firstKey..n];
        maskOffset += firstKey;
        if (mask is not null) TensorPrimitives.Add(live, mask.AsSpan(maskOffset, live.Length), live);
        float max = TensorPrimitives.Max(live);
        if (float.IsNegativeInfinity(max)) { live.Clear(); return; }
        // exp(scale·(x − max)): masked entries are −∞ and come out exactly 0.
        TensorPrimitives.Subtract(live, max, live);
        TensorPrimitives.Multiply(live, scale, live);
        TensorPrimitives.Exp(live, live);
        TensorPrimitives.Multiply(live, 1f / TensorPrimitives.Sum(live), live);
    }
}
