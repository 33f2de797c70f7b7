using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Reins.Tensors.Kernels;

namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>LayerNorm over the last axis: (x − μ)/√(σ² + ε) · w + b (biased variance, as PyTorch).</summary>
    public static Tensor LayerNorm(Tensor x, Tensor weight, Tensor? bias, float eps) => Norm(x, null, weight, bias, eps, rms: false).Normed;

    /// <summary>RMSNorm over the last axis: x / √(mean(x²) + ε) · w (Llama, Qwen2).</summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, float eps) => Norm(x, null, weight, null, eps, rms: true).Normed;

    /// <summary>
    /// The pre-norm block's residual step fused: sum = x + delta and LayerNorm(sum) in one pass over each row while
    /// it is in L1, instead of writing the sum and reading it back. Both outputs take part in autograd.
    /// </summary>
    public static (Tensor Sum, Tensor Normed) ResidualLayerNorm(Tensor x, Tensor delta, Tensor weight, Tensor? bias, float eps) => Norm(x, delta, weight, bias, eps, rms: false);

    /// <summary>sum = x + delta and RMSNorm(sum), fused as <see cref="ResidualLayerNorm"/>.</summary>
    public static (Tensor Sum, Tensor Normed) ResidualRmsNorm(Tensor x, Tensor delta, Tensor weight, float eps) => Norm(x, delta, weight, null, eps, rms: true);

    private static unsafe (Tensor Sum, Tensor Normed) Norm(Tensor x, Tensor? delta, Tensor weight, Tensor? bias, float eps, bool rms)
    {
        string op = rms ? "rms_norm" : "layer_norm";
        int n = x.Dim(-1), rows = x.Size / Math.Max(1, n);
        if (weight.Size != n || (bias is not null && bias.Size != n))
            throw new ArgumentException($"{op}: input {Tensor.Format(x.Shape)} needs weight/bias of {n}, got {Tensor.Format(weight.Shape)}{(bias is null ? "" : " and " + Tensor.Format(bias.Shape))}.");
        if (delta is not null && !delta.Shape.AsSpan().SequenceEqual(x.Shape))
            throw new ArgumentException($"residual {op}: x {Tensor.Format(x.Shape)} and delta {Tensor.Format(delta.Shape)} differ.");
        var input = delta is null ? x : Tensor.Uninitialized((int[])x.Shape.Clone());
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        var mean = new float[rows];
        var rstd = new float[rows];
        Engine.ForRanges(rows, RowPiece(n), (first, count) =>
        {
            var ys = y.Span; var w = weight.Span;
            var b = bias is null ? default : bias.Span;
            for (int r = first; r < first + count; r++)
            {
                var xr = input.Span.Slice(r * n, n);
                if (delta is not null) TensorPrimitives.Add(x.Span.Slice(r * n, n), delta.Span.Slice(r * n, n), xr);
                var yr = ys.Slice(r * n, n);
                float mu = rms ? 0 : TensorPrimitives.Sum(xr) / n;
                TensorPrimitives.Subtract(xr, mu, yr);
                float rs = 1f / MathF.Sqrt(TensorPrimitives.Dot(yr, yr) / n + eps);
                mean[r] = mu; rstd[r] = rs;
                TensorPrimitives.Multiply(yr, rs, yr);
                if (b.IsEmpty) TensorPrimitives.Multiply(yr, w, yr);
                else TensorPrimitives.FusedMultiplyAdd(yr, w, b, yr);
            }
        });
        if (delta is not null)
            Tape.Record(input, "add", () =>
            {
                foreach (var operand in (ReadOnlySpan<Tensor>)[x, delta])
                {
                    if (!operand.RequiresGrad) continue;
                    var d = operand.GradToWrite(out bool overwrite);
                    Engine.ForRanges(d.Size, ElementwisePiece, (s, len) =>
                    {
                        var g = input.Grad!.Span.Slice(s, len); var ds = d.Span.Slice(s, len);
                        if (overwrite) g.CopyTo(ds);
                        else TensorPrimitives.Add(ds, g, ds);
                    });
                }
            }, x, delta);
        Tape.Record(y, op, () =>
        {
            // With x̂ = (x−μ)·rstd (μ = 0 for RMSNorm) and g = dy ⊙ w:
            // dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)), without the mean(g) term for RMSNorm.
            // dx is per row, so rows run in parallel; dw and db sum over rows, so their columns are split instead.
            bool overwrite = false;
            var dx = input.RequiresGrad ? input.GradToWrite(out overwrite) : null;
            var dw = weight.RequiresGrad ? weight.EnsureGrad() : null;
            var db = bias is { RequiresGrad: true } ? bias.EnsureGrad() : null;
            if (dx is not null)
                Engine.ForRanges(rows, RowPiece(n), (first, count) =>
                {
                    var xs = input.Reader(); var dy = y.Grad!.Span; var w = weight.Span; var dxs = dx.Span;
                    Span<float> xhat = n <= 8192 ? stackalloc float[n] : new float[n];
                    Span<float> g = n <= 8192 ? stackalloc float[n] : new float[n];
                    for (int r = first; r < first + count; r++)
                    {
                        // An input packed as bf16 is widened a row at a time, into xhat, which the next line overwrites.
                        TensorPrimitives.Subtract(xs.Read(r * n, n, xhat), mean[r], xhat);
                        TensorPrimitives.Multiply(xhat, rstd[r], xhat);
                        TensorPrimitives.Multiply(dy.Slice(r * n, n), w, g);
                        float meanG = rms ? 0 : TensorPrimitives.Sum(g) / n, meanGx = TensorPrimitives.Dot(g, xhat) / n;
                        var dxr = dxs.Slice(r * n, n);
                        // Vectors, then a scalar tail with the same operations in the same order.
                        int i = 0;
                        if (Vector512.IsHardwareAccelerated)
                            for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
                            {
                                var term = Vector512.Create(rstd[r]) * (Vector512.Create(g.Slice(i, Vector512<float>.Count)) - Vector512.Create(meanG)
                                    - Vector512.Create(xhat.Slice(i, Vector512<float>.Count)) * Vector512.Create(meanGx));
                                var d = dxr.Slice(i, Vector512<float>.Count);
                                (overwrite ? term : Vector512.Create(d) + term).CopyTo(d);
                            }
                        for (; i < n; i++)
                        {
                            float term = rstd[r] * (g[i] - meanG - xhat[i] * meanGx);
                            dxr[i] = overwrite ? term : dxr[i] + term;
                        }
                    }
                });
            if (dw is not null || db is not null)
                Engine.ForRanges(n, ColumnPiece(n), (c0, width) =>
                {
                    fixed (float* mu = mean, rs = rstd)
                    {
                        float* g = y.Grad!.Ptr, dwp = dw is null ? null : dw.Ptr, dbp = db is null ? null : db.Ptr;
                        ushort* packed = input.PackedPtr;
                        if (packed != null) ColumnSums.AddNormalized<ushort, Bf16Storage>(g, packed, mu, rs, rows, n, c0, width, dwp, dbp);
                        else ColumnSums.AddNormalized<float, Fp32Storage>(g, input.Ptr, mu, rs, rows, n, c0, width, dwp, dbp);
                    }
                });
        }, input, weight, bias);
        return (input, y);
    }

    /// <summary>Looks up rows of <paramref name="weight"/> [V, C] for ids laid out as <paramref name="shape"/>; returns [..shape, C].</summary>
    public static Tensor Embedding(Tensor weight, ReadOnlySpan<int> ids, params int[] shape)
    {
        int v = weight.Dim(0), c = weight.Dim(1);
        if (Tensor.ShapeSize(shape) != ids.Length)
            throw new ArgumentException($"embedding: {ids.Length} ids do not fill shape {Tensor.Format(shape)}.");
        var idx = ids.ToArray();
        var y = Tensor.Uninitialized([.. shape, c]);
        // Inference on a table with a bf16 or int8 copy reads the copy, as the linear layers do (a tied LM head shares
        // it); a frozen table kept as bf16 only is always read so.
        var half = Tape.IsRecording && !weight.Bf16Only ? null : weight.Bf16;
        var int8 = Tape.IsRecording ? null : weight.Int8;
        for (int i = 0; i < idx.Length; i++)
        {
            if ((uint)idx[i] >= (uint)v)
                throw new ArgumentOutOfRangeException(nameof(ids), $"embedding {weight.Name}: id {idx[i]} at position {i} is outside [0, {v}).");
            var row = y.Span.Slice(i * c, c);
            if (int8 is not null)
                for (int j = 0; j < c; j++) row[j] = int8.Dequantized(idx[i], j);
            else if (half is null) weight.Span.Slice(idx[i] * c, c).CopyTo(row);
            else Kernels.Bf16.ToFloat(half.AsSpan(idx[i] * c, c), row);
        }
        Tape.Record(y, "embedding", () =>
        {
            // Scatter-add in sequence order, so repeated ids accumulate deterministically.
            var dy = y.Grad!.Span; var dw = weight.EnsureGrad().Span;
            for (int i = 0; i < idx.Length; i++)
                TensorPrimitives.Add(dw.Slice(idx[i] * c, c), dy.Slice(i * c, c), dw.Slice(idx[i] * c, c));
        }, weight);
        return y;
    }

    /// <summary>
    /// Rotary position embedding, "rotate half" convention (Hugging Face Llama): for each head of x [B, T, H·D]
    /// the pairs (i, i + D/2) are rotated by angle positions[b,t]·θ_i. cos/sin are tables [maxPositions, D/2].
    /// </summary>
    public static Tensor Rotary(Tensor x, int heads, ReadOnlySpan<int> positions, Tensor cos, Tensor sin)
    {
        int rows = positions.Length, width = x.Dim(-1), d = width / heads, half = d / 2;
        if (x.Size != rows * width || d * heads != width || d % 2 != 0 || cos.Dim(-1) != half)
            throw new ArgumentException($"rotary: input {Tensor.Format(x.Shape)} with {heads} heads, {positions.Length} positions and tables {Tensor.Format(cos.Shape)} are inconsistent.");
        var pos = positions.ToArray();
        int maxPos = cos.Dim(0);
        foreach (var p in pos)
            if ((uint)p >= (uint)maxPos) throw new ArgumentOutOfRangeException(nameof(positions), $"rotary: position {p} outside the table of {maxPos} positions.");
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        Rotate(x.Span, y.Span, pos, heads, d, cos.Span, sin.Span, 1f, accumulate: false);
        // The rotation is orthogonal, so its backward is the rotation by the opposite angle.
        Tape.Record(y, "rotary", () => Rotate(y.Grad!.Span, x.EnsureGrad().Span, pos, heads, d, cos.Span, sin.Span, -1f, accumulate: true), x);
        return y;
    }

    private static void Rotate(ReadOnlySpan<float> src, Span<float> dst, int[] pos, int heads, int d, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, float sign, bool accumulate)
    {
        int half = d / 2;
        for (int r = 0; r < pos.Length; r++)
        {
            var c = cos.Slice(pos[r] * half, half);
            var s = sin.Slice(pos[r] * half, half);
            for (int h = 0; h < heads; h++)
            {
                int o = (r * heads + h) * d;
                for (int i = 0; i < half; i++)
                {
                    float a = src[o + i], b = src[o + half + i], si = sign * s[i];
                    float ra = a * c[i] - b * si, rb = b * c[i] + a * si;
                    if (accumulate) { dst[o + i] += ra; dst[o + half + i] += rb; }
                    else { dst[o + i] = ra; dst[o + half + i] = rb; }
                }
            }
        }
    }
}
