using System.Numerics.Tensors;

namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>Softmax over the last axis.</summary>
    public static Tensor Softmax(Tensor x)
    {
        int n = x.Dim(-1), rows = x.Size / Math.Max(1, n);
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        for (int r = 0; r < rows; r++)
        {
            // TensorPrimitives.SoftMax does not subtract the maximum and overflows for logits near 100; this does.
            var yr = y.Span.Slice(r * n, n);
            TensorPrimitives.Subtract(x.Span.Slice(r * n, n), TensorPrimitives.Max(x.Span.Slice(r * n, n)), yr);
            TensorPrimitives.Exp(yr, yr);
            TensorPrimitives.Multiply(yr, 1f / TensorPrimitives.Sum(yr), yr);
        }
        Tape.Record(y, "softmax", () =>
        {
            // dx = y ⊙ (dy − ⟨dy, y⟩) row by row.
            var ys = y.Span; var dy = y.Grad!.Span; var dx = x.EnsureGrad().Span;
            for (int r = 0; r < rows; r++)
            {
                var yr = ys.Slice(r * n, n); var gr = dy.Slice(r * n, n); var xr = dx.Slice(r * n, n);
                float dot = TensorPrimitives.Dot(yr, gr);
                for (int i = 0; i < n; i++) xr[i] += yr[i] * (gr[i] - dot);
            }
        }, x);
        return y;
    }

    /// <summary>log-softmax over the last axis.</summary>
    public static Tensor LogSoftmax(Tensor x)
    {
        int n = x.Dim(-1), rows = x.Size / Math.Max(1, n);
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Span.Slice(r * n, n);
            TensorPrimitives.Subtract(xr, LogSumExp(xr), y.Span.Slice(r * n, n));
        }
        Tape.Record(y, "log_softmax", () =>
        {
            // dx = dy − softmax ⊙ Σdy.
            var ys = y.Span; var dy = y.Grad!.Span; var dx = x.EnsureGrad().Span;
            for (int r = 0; r < rows; r++)
            {
                var yr = ys.Slice(r * n, n); var gr = dy.Slice(r * n, n); var xr = dx.Slice(r * n, n);
                float sum = TensorPrimitives.Sum(gr);
                for (int i = 0; i < n; i++) xr[i] += gr[i] - MathF.Exp(yr[i]) * sum;
            }
        }, x);
        return y;
    }

    /// <summary>log Σ exp(x) of one row, stable for any magnitude.</summary>
    public static float LogSumExp(ReadOnlySpan<float> row)
    {
        float max = TensorPrimitives.Max(row);
        if (float.IsNegativeInfinity(max)) return max;
        double sum = 0;
        // Chunked exp through TensorPrimitives keeps this vectorised without a full-row scratch copy.
        Span<float> tmp = stackalloc float[512];
        for (int s = 0; s < row.Length; s += tmp.Length)
        {
            int c = Math.Min(tmp.Length, row.Length - s);
            TensorPrimitives.Subtract(row.Slice(s, c), max, tmp[..c]);
            TensorPrimitives.Exp(tmp[..c], tmp[..c]);
            sum += TensorPrimitives.Sum(tmp[..c]);
        }
        return max + (float)Math.Log(sum);
    }

    // The targets as an array, each checked to be a vocabulary id or ignoreIndex, before any row is computed in parallel.
    private static int[] CheckTargets(string op, ReadOnlySpan<int> targets, int vocab, int ignoreIndex)
    {
        var tgt = targets.ToArray();
        for (int r = 0; r < tgt.Length; r++)
            if (tgt[r] != ignoreIndex && (uint)tgt[r] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(targets), $"{op}: target {tgt[r]} at row {r} is outside the vocabulary [0, {vocab}).");
        return tgt;
    }

    /// <summary>
    /// Fused cross-entropy over logits [..., V] and integer targets (one per row). Rows whose target equals
    /// <paramref name="ignoreIndex"/> contribute nothing. Returns the mean over counted rows as [1], or with
    /// <paramref name="perToken"/> the per-row losses (0 at ignored rows). Only the per-row log-sum-exp is kept
    /// for backward: softmax is recomputed there rather than stored, so no probability copy of the logits exists.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> targets, int ignoreIndex = -100, bool perToken = false)
    {
        int v = logits.Dim(-1), rows = logits.Size / Math.Max(1, v);
        if (targets.Length != rows)
            throw new ArgumentException($"cross_entropy: logits {Tensor.Format(logits.Shape)} have {rows} rows but {targets.Length} targets were given.");
        var tgt = CheckTargets("cross_entropy", targets, v, ignoreIndex);
        var lse = new float[rows];
        var losses = Tensor.Uninitialized(logits.Rank > 1 ? logits.Shape[..^1] : [1]);
        Engine.ForRanges(rows, RowPiece(v), (r0, count) =>
        {
            var ls = losses.Span;
            for (int r = r0; r < r0 + count; r++)
            {
                if (tgt[r] == ignoreIndex) { ls[r] = 0; continue; }
                var row = logits.Span.Slice(r * v, v);
                lse[r] = LogSumExp(row);
                ls[r] = lse[r] - row[tgt[r]];
            }
        });
        int counted = 0;
        double total = 0;
        for (int r = 0; r < rows; r++)
            if (tgt[r] != ignoreIndex) { total += losses.Span[r]; counted++; }
        Tensor y = losses;
        if (!perToken)
        {
            y = Tensor.Uninitialized([1]);
            y.Span[0] = counted == 0 ? 0 : (float)(total / counted);
        }
        float meanScale = counted == 0 ? 0 : 1f / counted;
        Tape.Record(y, "cross_entropy", () =>
        {
            // d loss_r / d z = softmax(z) − onehot(target), scaled by the upstream gradient of that row.
            var dx = logits.EnsureGrad();
            Engine.ForRanges(rows, RowPiece(v), (r0, count) =>
            {
                var xs = logits.Span; var dy = y.Grad!.Span; var dxs = dx.Span;
                for (int r = r0; r < r0 + count; r++)
                {
                    if (tgt[r] == ignoreIndex) continue;
                    float g = perToken ? dy[r] : dy[0] * meanScale;
                    if (g == 0) continue;
                    var xr = xs.Slice(r * v, v); var gr = dxs.Slice(r * v, v);
                    AddScaledSoftmax(xr, lse[r], g, gr);
                    gr[tgt[r]] -= g;
                }
            });
        }, logits);
        return y;
    }

    // dst += g · exp(x − lse), chunked so the exponentials stay vectorised and in L1.
    private static void AddScaledSoftmax(ReadOnlySpan<float> x, float lse, float g, Span<float> dst)
    {
        Span<float> tmp = stackalloc float[512];
        for (int s = 0; s < x.Length; s += tmp.Length)
        {
            int c = Math.Min(tmp.Length, x.Length - s);
            TensorPrimitives.Subtract(x.Slice(s, c), lse, tmp[..c]);
            TensorPrimitives.Exp(tmp[..c], tmp[..c]);
            TensorPrimitives.MultiplyAdd(tmp[..c], g, dst.Slice(s, c), dst.Slice(s, c));
        }
    }

    /// <summary>
    /// Per-token log-probabilities log softmax(logits / T)[target] for logits [..., V]: the quantity every RLHF
    /// loss is built from. Returns a tensor of the leading shape; ignored rows give 0.
    /// </summary>
    public static Tensor TokenLogProbs(Tensor logits, ReadOnlySpan<int> targets, float temperature = 1f, int ignoreIndex = -100)
    {
        if (temperature <= 0) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "token_log_probs: temperature must be positive.");
        int v = logits.Dim(-1), rows = logits.Size / Math.Max(1, v);
        if (targets.Length != rows)
            throw new ArgumentException($"token_log_probs: logits {Tensor.Format(logits.Shape)} have {rows} rows but {targets.Length} targets were given.");
        var tgt = CheckTargets("token_log_probs", targets, v, ignoreIndex);
        var lse = new float[rows];
        var y = Tensor.Uninitialized(logits.Rank > 1 ? logits.Shape[..^1] : [1]);
        float invT = 1f / temperature;
        Engine.ForRanges(rows, RowPiece(v), (r0, count) =>
        {
            var ys = y.Span;
            var scaled = temperature == 1f ? null : BufferPool.Rent(v);
            for (int r = r0; r < r0 + count; r++)
            {
                if (tgt[r] == ignoreIndex) { ys[r] = 0; continue; }
                ReadOnlySpan<float> row = logits.Span.Slice(r * v, v);
                if (scaled is not null) { TensorPrimitives.Multiply(row, invT, scaled); row = scaled; }
                lse[r] = LogSumExp(row);
                ys[r] = row[tgt[r]] - lse[r];
            }
            if (scaled is not null) BufferPool.Return(scaled);
        });
        Tape.Record(y, "token_log_probs", () =>
        {
            // d/dz log softmax(z/T)[t] = (onehot(t) − softmax(z/T)) / T.
            var dx = logits.EnsureGrad();
            Engine.ForRanges(rows, RowPiece(v), (r0, count) =>
            {
                var xs = logits.Span; var dy = y.Grad!.Span; var dxs = dx.Span;
                var buf = temperature == 1f ? null : BufferPool.Rent(v);
                for (int r = r0; r < r0 + count; r++)
                {
                    if (tgt[r] == ignoreIndex || dy[r] == 0) continue;
                    ReadOnlySpan<float> row = xs.Slice(r * v, v);
                    if (buf is not null) { TensorPrimitives.Multiply(row, invT, buf); row = buf; }
                    var gr = dxs.Slice(r * v, v);
                    AddScaledSoftmax(row, lse[r], -dy[r] * invT, gr);
                    gr[tgt[r]] += dy[r] * invT;
                }
                if (buf is not null) BufferPool.Return(buf);
            });
        }, logits);
        return y;
    }

    /// <summary>Entropy −Σ p log p of softmax(logits) over the last axis; one value per row.</summary>
    public static Tensor Entropy(Tensor logits)
    {
        int v = logits.Dim(-1), rows = logits.Size / Math.Max(1, v);
        var y = Tensor.Uninitialized(logits.Rank > 1 ? logits.Shape[..^1] : [1]);
        var lse = new float[rows];
        Engine.ForRanges(rows, RowPiece(v), (r0, count) =>
        {
            var p = BufferPool.Rent(v);
            for (int r = r0; r < r0 + count; r++)
            {
                var row = logits.Span.Slice(r * v, v);
                lse[r] = LogSumExp(row);
                TensorPrimitives.Subtract(row, lse[r], p);
                TensorPrimitives.Exp(p, p);
                // H = lse − Σ p·z
                y.Span[r] = lse[r] - TensorPrimitives.Dot(p, row);
            }
            BufferPool.Return(p);
        });
        Tape.Record(y, "entropy", () =>
        {
            // ∂H/∂z_j = −p_j (log p_j + H).
            var dx = logits.EnsureGrad();
            Engine.ForRanges(rows, RowPiece(v), (r0, count) =>
            {
                var xs = logits.Span; var dy = y.Grad!.Span; var dxs = dx.Span; var hs = y.Span;
                for (int r = r0; r < r0 + count; r++)
                {
                    if (dy[r] == 0) continue;
                    var row = xs.Slice(r * v, v); var gr = dxs.Slice(r * v, v);
                    for (int j = 0; j < v; j++)
                    {
                        float logp = row[j] - lse[r];
                        gr[j] -= dy[r] * MathF.Exp(logp) * (logp + hs[r]);
                    }
                }
            });
        }, logits);
        return y;
    }
}
