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
    /// sequences, whose documents must each be one contiguous run.
    /// </summary>
    public static unsafe Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, int kvHeads, ReadOnlySpan<float> keyMask, bool causal, ReadOnlySpan<int> segments = default)
    {
        if (q.Rank != 3 || k.Rank != 3 || v.Rank != 3)
            throw new ArgumentException($"attention: q, k, v must be [B, T, H·D]; got {Tensor.Format(q.Shape)}, {Tensor.Format(k.Shape)}, {Tensor.Format(v.Shape)}.");
        int batch = q.Dim(0), t = q.Dim(1), s = k.Dim(1), d = q.Dim(2) / heads;
        if (heads % kvHeads != 0 || d * heads != q.Dim(2) || k.Dim(2) != kvHeads * d || !k.Shape.AsSpan().SequenceEqual(v.Shape) || k.Dim(0) != batch || s < t)
            throw new ArgumentException($"attention: q {Tensor.Format(q.Shape)} with {heads} heads and k {Tensor.Format(k.Shape)} / v {Tensor.Format(v.Shape)} with {kvHeads} kv heads are inconsistent.");
        if (!keyMask.IsEmpty && keyMask.Length != batch * s)
            throw new ArgumentException($"attention: key mask has {keyMask.Length} entries, expected B·S = {batch * s}.");
        var mask = MaskBias(keyMask);
        var firstKey = segments.IsEmpty ? null : SegmentStarts(segments, batch, t, s);
        int group = heads / kvHeads, ldq = heads * d, ldk = kvHeads * d;
        float scale = 1f / MathF.Sqrt(d);
        var probs = Tensor.Uninitialized([batch, heads, t, s]);
        var y = Tensor.Uninitialized([batch, t, heads * d]);
        float* qp = q.Ptr, kp = k.Ptr, vp = v.Ptr, pp = probs.Ptr, yp = y.Ptr;

        // One task per (batch, kv head): the q heads sharing a kv head run together, so the backward's
        // accumulation into dK and dV never races and the result does not depend on the thread count.
        Engine.For(batch * kvHeads, task =>
        {
            int b = task / kvHeads, kh = task % kvHeads;
            AttendGroup(b, kh, group, t, s, d, qp, ldq, kp + (long)b * s * ldk, vp + (long)b * s * ldk, ldk,
                pp + ((long)b * heads + kh * group) * t * s, yp, scale, causal, mask, b * s, firstKey);
        });

        Tape.Record(y, "attention", () =>
        {
            float* dy = y.Grad!.Ptr;
            float* dq = q.RequiresGrad ? q.EnsureGrad().Ptr : null;
            float* dk = k.RequiresGrad ? k.EnsureGrad().Ptr : null;
            float* dv = v.RequiresGrad ? v.EnsureGrad().Ptr : null;
            float* qp = q.Ptr, kp = k.Ptr, vp = v.Ptr, pp = probs.Ptr;
            Engine.For(batch * kvHeads, task =>
            {
                int b = task / kvHeads, kh = task % kvHeads;
                long kvOff = (long)b * s * ldk + kh * d;
                var dScores = BufferPool.Rent(Math.Min(QueryBlock, t) * s);
                fixed (float* ds = dScores)
                {
                    for (int h = kh * group; h < (kh + 1) * group; h++)
                        for (int r0 = 0; r0 < t; r0 += QueryBlock)
                        {
                            // Query rows [r0, r0 + rows) and the keys they see; probabilities past those keys are 0.
                            int rows = Math.Min(QueryBlock, t - r0), keys = KeysSeen(r0 + rows, t, s, causal);
                            long qOff = (long)(b * t + r0) * ldq + h * d;
                            float* pb = pp + (((long)b * heads + h) * t + r0) * s;
                            if (dv != null) Gemm.Multiply(true, false, keys, d, rows, pb, s, dy + qOff, ldq, dv + kvOff, ldk, true, 1);       // dV += Pᵀ·dO
                            Gemm.Multiply(false, true, rows, keys, d, dy + qOff, ldq, vp + kvOff, ldk, ds, keys, false, 1);                     // dP = dO·Vᵀ
                            for (int i = 0; i < rows; i++)                                                                                      // dS = P ⊙ (dP − ⟨dP, P⟩) · scale
                            {
                                var pr = new ReadOnlySpan<float>(pb + (long)i * s, keys);
                                var dr = new Span<float>(ds + (long)i * keys, keys);
                                float dot = TensorPrimitives.Dot(pr, dr);
                                TensorPrimitives.Subtract(dr, dot, dr);
                                TensorPrimitives.Multiply(dr, pr, dr);
                                TensorPrimitives.Multiply(dr, scale, dr);
                            }
                            if (dq != null) Gemm.Multiply(false, false, rows, d, keys, ds, keys, kp + kvOff, ldk, dq + qOff, ldq, true, 1);     // dQ += dS·K
                            if (dk != null) Gemm.Multiply(true, false, keys, d, rows, ds, keys, qp + qOff, ldq, dk + kvOff, ldk, true, 1);     // dK += dSᵀ·Q
                        }
                }
                BufferPool.Return(dScores);
            });
        }, q, k, v);
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
        int batch = q.Dim(0), t = q.Dim(1), d = q.Dim(2) / heads, capacity = keys.Rank == 4 ? keys.Dim(2) : 0;
        if (q.Rank != 3 || keys.Rank != 4 || !keys.Shape.AsSpan().SequenceEqual(values.Shape) || keys.Dim(0) != batch || keys.Dim(1) != kvHeads
            || keys.Dim(3) != d || d * heads != q.Dim(2) || heads % kvHeads != 0 || keyLength < t || keyLength > capacity || keyMask.Length != batch * capacity)
            throw new ArgumentException($"cached attention: q {Tensor.Format(q.Shape)} ({heads} heads), keys {Tensor.Format(keys.Shape)}, values {Tensor.Format(values.Shape)} ({kvHeads} kv heads), {keyLength} keys and a mask of {keyMask.Length} are inconsistent.");
        if (Tape.IsRecording && q.RequiresGrad)
            throw new InvalidOperationException("cached attention is inference-only; it records no gradient. Use Attention for training or wrap generation in Tape.NoGrad().");
        var mask = MaskBias(keyMask);
        int group = heads / kvHeads, ldq = heads * d;
        float scale = 1f / MathF.Sqrt(d);
        var y = Tensor.Uninitialized([batch, t, heads * d]);
        float* qp = q.Ptr, kp = keys.Ptr, vp = values.Ptr, yp = y.Ptr;
        Engine.For(batch * kvHeads, task =>
        {
            int b = task / kvHeads;
            var scores = BufferPool.Rent(t * keyLength);
            fixed (float* sp = scores)
            {
                long block = (long)task * capacity * d;
                float* kb = kp + block, vb = vp + block;
                for (int h = task % kvHeads * group; h < (task % kvHeads + 1) * group; h++)
                {
                    float* qb = qp + (long)b * t * ldq + h * d, yb = yp + (long)b * t * ldq + h * d;
                    if (t == 1)
                    {
                        AttendOneQuery(qb, kb, vb, d, keyLength, sp, yb, scale, mask, b * capacity);
                        continue;
                    }
                    Gemm.Multiply(false, true, t, keyLength, d, qb, ldq, kb, d, sp, keyLength, false, 1);
                    for (int i = 0; i < t; i++)
                        MaskedSoftmaxRow(new Span<float>(sp + (long)i * keyLength, keyLength), scale, 0, keyLength - t + i, mask, b * capacity);
                    Gemm.Multiply(false, false, t, d, keyLength, sp, keyLength, vb, d, yb, ldq, false, 1);
                }
            }
            BufferPool.Return(scores);
        });
        Tape.MarkForward(y, "cached_attention");
        return y;
    }

    // A decode step's single query against one head's cache (keys and values [keyLength, d], contiguous): a dot product
    // per key and an AXPY per value row, which at one query cost far less than two GEMM calls' set-up.
    private static unsafe void AttendOneQuery(float* q, float* keys, float* values, int d, int keyLength, float* scores, float* y, float scale, float[]? mask, int maskOffset)
    {
        int dv = d / 16 * 16;
        for (int j = 0; j < keyLength; j++)
        {
            float* k = keys + (long)j * d;
            var acc = Vector512<float>.Zero;
            for (int c = 0; c < dv; c += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(q + c), Vector512.Load(k + c), acc);
            float dot = Vector512.Sum(acc);
            for (int c = dv; c < d; c++) dot = MathF.FusedMultiplyAdd(q[c], k[c], dot);
            scores[j] = dot;
        }
        MaskedSoftmaxRow(new Span<float>(scores, keyLength), scale, 0, keyLength - 1, mask, maskOffset);
        new Span<float>(y, d).Clear();
        for (int j = 0; j < keyLength; j++)
        {
            float* v = values + (long)j * d;
            var p = Vector512.Create(scores[j]);
            for (int c = 0; c < dv; c += 16) Vector512.Store(Vector512.FusedMultiplyAdd(p, Vector512.Load(v + c), Vector512.Load(y + c)), y + c);
            for (int c = dv; c < d; c++) y[c] = MathF.FusedMultiplyAdd(scores[j], v[c], y[c]);
        }
    }

    // The q heads of kv head kh in sequence b: probabilities into probs [group, t, s], outputs into y. kb and vb
    // point at the sequence's first key row; maskOffset is where its s keys start in mask.
    private static unsafe void AttendGroup(int b, int kh, int group, int t, int s, int d, float* qp, int ldq, float* kb, float* vb, int ldk,
        float* probs, float* yp, float scale, bool causal, float[]? mask, int maskOffset, int[]? firstKey)
    {
        kb += kh * d;
        vb += kh * d;
        for (int g = 0; g < group; g++)
        {
            int h = kh * group + g;
            float* qb = qp + (long)b * t * ldq + h * d, pb = probs + (long)g * t * s, yb = yp + (long)b * t * ldq + h * d;
            for (int r0 = 0; r0 < t; r0 += QueryBlock)
            {
                int rows = Math.Min(QueryBlock, t - r0), keys = KeysSeen(r0 + rows, t, s, causal);
                float* pr = pb + (long)r0 * s;
                Gemm.Multiply(false, true, rows, keys, d, qb + (long)r0 * ldq, ldq, kb, ldk, pr, s, false, 1);
                for (int i = r0; i < r0 + rows; i++)
                    MaskedSoftmaxRow(new Span<float>(pb + (long)i * s, s), scale, firstKey?[b * t + i] ?? 0, causal ? s - t + i : s - 1, mask, maskOffset);
                Gemm.Multiply(false, false, rows, d, keys, pr, s, vb, ldk, yb + (long)r0 * ldq, ldq, false, 1);
            }
        }
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
