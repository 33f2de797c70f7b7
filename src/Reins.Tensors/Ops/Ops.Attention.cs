using System.Numerics.Tensors;
using Reins.Tensors.Kernels;

namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Fused scaled-dot-product attention with grouped-query heads. q [B, T, Hq·D]; k, v [B, S, Hkv·D] with S ≥ T
    /// (S > T when earlier keys come from a KV cache: query t sits at absolute position S − T + t).
    /// <paramref name="keyMask"/> [B·S] marks real (1) and padding (0) keys. A query that may attend to no key
    /// (a left-pad position) outputs zeros rather than NaN. Heads are read strided, so no transposes are made.
    /// </summary>
    public static unsafe Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, int kvHeads, ReadOnlySpan<float> keyMask, bool causal)
    {
        if (q.Rank != 3 || k.Rank != 3 || v.Rank != 3)
            throw new ArgumentException($"attention: q, k, v must be [B, T, H·D]; got {Tensor.Format(q.Shape)}, {Tensor.Format(k.Shape)}, {Tensor.Format(v.Shape)}.");
        int batch = q.Dim(0), t = q.Dim(1), s = k.Dim(1), d = q.Dim(2) / heads;
        if (heads % kvHeads != 0 || d * heads != q.Dim(2) || k.Dim(2) != kvHeads * d || !k.Shape.AsSpan().SequenceEqual(v.Shape) || k.Dim(0) != batch || s < t)
            throw new ArgumentException($"attention: q {Tensor.Format(q.Shape)} with {heads} heads and k {Tensor.Format(k.Shape)} / v {Tensor.Format(v.Shape)} with {kvHeads} kv heads are inconsistent.");
        if (!keyMask.IsEmpty && keyMask.Length != batch * s)
            throw new ArgumentException($"attention: key mask has {keyMask.Length} entries, expected B·S = {batch * s}.");
        var mask = keyMask.IsEmpty ? null : keyMask.ToArray();
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
            float* kb = kp + (long)b * s * ldk + kh * d, vb = vp + (long)b * s * ldk + kh * d;
            for (int h = kh * group; h < (kh + 1) * group; h++)
            {
                float* qb = qp + (long)b * t * ldq + h * d, pb = pp + ((long)b * heads + h) * t * s;
                Gemm.Multiply(false, true, t, s, d, qb, ldq, kb, ldk, pb, s, false, 1);
                for (int i = 0; i < t; i++)
                    MaskedSoftmaxRow(new Span<float>(pb + (long)i * s, s), scale, causal ? s - t + i : s - 1, mask, b * s);
                Gemm.Multiply(false, false, t, d, s, pb, s, vb, ldk, yp + (long)b * t * ldq + h * d, ldq, false, 1);
            }
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
                var dScores = BufferPool.Rent(t * s);
                fixed (float* ds = dScores)
                {
                    for (int h = kh * group; h < (kh + 1) * group; h++)
                    {
                        long qOff = (long)b * t * ldq + h * d;
                        float* pb = pp + ((long)b * heads + h) * t * s;
                        if (dv != null) Gemm.Multiply(true, false, s, d, t, pb, s, dy + qOff, ldq, dv + kvOff, ldk, true, 1);       // dV += Pᵀ·dO
                        Gemm.Multiply(false, true, t, s, d, dy + qOff, ldq, vp + kvOff, ldk, ds, s, false, 1);                       // dP = dO·Vᵀ
                        for (int i = 0; i < t; i++)                                                                                  // dS = P ⊙ (dP − ⟨dP, P⟩) · scale
                        {
                            var pr = new ReadOnlySpan<float>(pb + (long)i * s, s);
                            var dr = new Span<float>(ds + (long)i * s, s);
                            float dot = TensorPrimitives.Dot(pr, dr);
                            TensorPrimitives.Subtract(dr, dot, dr);
                            TensorPrimitives.Multiply(dr, pr, dr);
                            TensorPrimitives.Multiply(dr, scale, dr);
                        }
                        if (dq != null) Gemm.Multiply(false, false, t, d, s, ds, s, kp + kvOff, ldk, dq + qOff, ldq, true, 1);        // dQ += dS·K
                        if (dk != null) Gemm.Multiply(true, false, s, d, t, ds, s, qp + qOff, ldq, dk + kvOff, ldk, true, 1);        // dK += dSᵀ·Q
                    }
                }
                BufferPool.Return(dScores);
            });
        }, q, k, v);
        return y;
    }

    // Softmax of scale·row over the keys j ≤ lastKey that the mask allows; every other entry becomes 0.
    private static void MaskedSoftmaxRow(Span<float> row, float scale, int lastKey, float[]? mask, int maskOffset)
    {
        int n = Math.Min(lastKey + 1, row.Length);
        row[n..].Clear();
        var live = row[..n];
        if (mask is not null)
            for (int j = 0; j < n; j++)
                if (mask[maskOffset + j] == 0) live[j] = float.NegativeInfinity;
        float max = n == 0 ? float.NegativeInfinity : TensorPrimitives.Max(live);
        if (float.IsNegativeInfinity(max)) { live.Clear(); return; }
        // exp(scale·(x − max)): masked entries are −∞ and come out exactly 0.
        TensorPrimitives.Subtract(live, max, live);
        TensorPrimitives.Multiply(live, scale, live);
        TensorPrimitives.Exp(live, live);
        TensorPrimitives.Multiply(live, 1f / TensorPrimitives.Sum(live), live);
    }
}
