using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Reins.Tensors;

/// <summary>Differentiable operations. Each op's forward and backward sit side by side.</summary>
public static partial class Ops
{
    private delegate void UnaryForward(ReadOnlySpan<float> x, Span<float> y);
    // Accumulates the input gradient dx += dy · f'(x) from what the op keeps for it: x, or y = f(x) where f' is
    // cheaper from the output (Unary's fromOutput).
    private delegate void UnaryBackward(ReadOnlySpan<float> saved, ReadOnlySpan<float> dy, Span<float> dx);

    // Elements per parallel piece of an elementwise op: 128 KB, enough to pay for handing it to another thread.
    private const int ElementwisePiece = 1 << 15;

    // Rows of width n per parallel piece of a row-wise op (about ElementwisePiece elements).
    private static int RowPiece(int n) => Math.Max(1, ElementwisePiece / Math.Max(1, n));

    // Columns per parallel piece of a sum over rows into n columns: each piece sums its columns over every row in row
    // order, so the result does not depend on the thread count.
    private static int ColumnPiece(int n) => Math.Max(16, n / 8);

    private static Tensor Unary(string op, Tensor x, UnaryForward forward, UnaryBackward backward, bool fromOutput = false)
    {
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        Engine.ForRanges(x.Size, ElementwisePiece, (s, n) => forward(x.Span.Slice(s, n), y.Span.Slice(s, n)));
        Tape.Record(y, op, () =>
        {
            var dx = x.EnsureGrad();
            var savedTensor = fromOutput ? y : x;
            Engine.ForRanges(x.Size, ElementwisePiece, (s, n) =>
            {
                // A saved tensor packed as bf16 is widened a chunk at a time where it is used; the chunks start where
                // the kernels' own do, so the result is what reading the widened tensor whole gives.
                var saved = savedTensor.Reader();
                Span<float> scratch = stackalloc float[Chunk];
                var dy = y.Grad!.Span; var dxs = dx.Span;
                for (int c = s; c < s + n; c += Chunk)
                {
                    int len = Math.Min(Chunk, s + n - c);
                    backward(saved.Read(c, len, scratch), dy.Slice(c, len), dxs.Slice(c, len));
                }
            });
        }, x);
        return y;
    }

    /// <summary>eˣ.</summary>
    public static Tensor Exp(Tensor x) => Unary("exp", x,
        static (x, y) => TensorPrimitives.Exp(x, y),
        static (y, dy, dx) => TensorPrimitives.MultiplyAdd(dy, y, dx, dx), fromOutput: true);

    /// <summary>Natural logarithm.</summary>
    public static Tensor Log(Tensor x) => Unary("log", x,
        static (x, y) => TensorPrimitives.Log(x, y),
        static (x, dy, dx) => { for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] / x[i]; });

    /// <summary>Square root.</summary>
    public static Tensor Sqrt(Tensor x) => Unary("sqrt", x,
        static (x, y) => TensorPrimitives.Sqrt(x, y),
        static (y, dy, dx) => { for (int i = 0; i < dx.Length; i++) dx[i] += 0.5f * dy[i] / y[i]; }, fromOutput: true);

    /// <summary>xᵖ for a constant exponent.</summary>
    public static Tensor Pow(Tensor x, float p)
    {
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        TensorPrimitives.Pow(x.Span, p, y.Span);
        Tape.Record(y, "pow", () =>
        {
            var xs = x.Span; var dy = y.Grad!.Span; var dx = x.EnsureGrad().Span;
            for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] * p * MathF.Pow(xs[i], p - 1);
        }, x);
        return y;
    }

    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor x) => Unary("tanh", x,
        static (x, y) => TensorPrimitives.Tanh(x, y),
        static (y, dy, dx) => { for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] * (1 - y[i] * y[i]); }, fromOutput: true);

    /// <summary>Logistic sigmoid 1/(1+e⁻ˣ).</summary>
    public static Tensor Sigmoid(Tensor x) => Unary("sigmoid", x,
        static (x, y) => TensorPrimitives.Sigmoid(x, y),
        static (y, dy, dx) => { for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] * y[i] * (1 - y[i]); }, fromOutput: true);

    /// <summary>log σ(x), computed as min(x,0) − log1p(e^−|x|) so it never overflows (the form every DPO loss needs).</summary>
    public static Tensor LogSigmoid(Tensor x) => Unary("log_sigmoid", x,
        static (x, y) => { for (int i = 0; i < y.Length; i++) y[i] = MathF.Min(x[i], 0) - Log1pExp(-MathF.Abs(x[i])); },
        static (y, dy, dx) => { for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] * (1 - MathF.Exp(y[i])); }, fromOutput: true); // d/dx log σ = 1 − σ

    /// <summary>softplus(x) = log(1 + eˣ), overflow-safe.</summary>
    public static Tensor Softplus(Tensor x) => Unary("softplus", x,
        static (x, y) => { for (int i = 0; i < y.Length; i++) y[i] = MathF.Max(x[i], 0) + Log1pExp(-MathF.Abs(x[i])); },
        static (x, dy, dx) => { for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] / (1 + MathF.Exp(-x[i])); });

    private static float Log1pExp(float negAbs) => (float)Math.Log(1 + Math.Exp(negAbs));

    /// <summary>SiLU (swish) x·σ(x), the gate of Llama's SwiGLU MLP.</summary>
    public static Tensor Silu(Tensor x) => Unary("silu", x,
        static (x, y) => { TensorPrimitives.Sigmoid(x, y); TensorPrimitives.Multiply(x, y, y); },
        static (x, dy, dx) =>
        {
            for (int i = 0; i < dx.Length; i++)
            {
                float s = 1f / (1f + MathF.Exp(-x[i]));
                dx[i] += dy[i] * s * (1 + x[i] * (1 - s));
            }
        });

    private const float SqrtTwoOverPi = 0.7978845608028654f;
    private const float GeluCoefficient = 0.044715f;
    private const int Chunk = 1024;

    /// <summary>GELU with the tanh approximation (GPT-2's "gelu_new"): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    public static Tensor GeluTanh(Tensor x) => Unary("gelu_tanh", x, GeluTanhForward, GeluTanhBackward);

    // s = σ(2u) with u = √(2/π)·(x + c·x³), since 0.5(1 + tanh u) = σ(2u): one vectorised sigmoid where the tanh form
    // needs extra passes. Callers pass one cache-sized chunk at a time. With AVX-512 it is one pass in registers,
    // doing what the TensorPrimitives passes do in the same order, so both give the same bits (a chunk's last vector
    // overlaps the one before it rather than leaving a scalar tail).
    private static void GeluGate(ReadOnlySpan<float> x, Span<float> s)
    {
        if (Vector512.IsHardwareAccelerated && x.Length >= Vector512<float>.Count)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref float sr = ref MemoryMarshal.GetReference(s);
            int last = x.Length - Vector512<float>.Count;
            for (int i = 0; ; i += Vector512<float>.Count)
            {
                int at = Math.Min(i, last);
                var v = Vector512.LoadUnsafe(ref xr, (nuint)at);
                var u = v * v * Vector512.Create(2 * SqrtTwoOverPi * GeluCoefficient) + Vector512.Create(2 * SqrtTwoOverPi);
                Vector512.StoreUnsafe(Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-(u * v))), ref sr, (nuint)at);
                if (at == last) return;
            }
        }
        TensorPrimitives.Multiply(x, x, s);
        TensorPrimitives.Multiply(s, 2 * SqrtTwoOverPi * GeluCoefficient, s);
        TensorPrimitives.Add(s, 2 * SqrtTwoOverPi, s);
        TensorPrimitives.Multiply(s, x, s);
        TensorPrimitives.Sigmoid(s, s);
    }

    private static void GeluTanhForward(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int s = 0; s < x.Length; s += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - s);
            var ys = y.Slice(s, n);
            GeluGate(x.Slice(s, n), ys);
            TensorPrimitives.Multiply(ys, x.Slice(s, n), ys);
        }
    }

    private static void GeluTanhBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        Span<float> gate = stackalloc float[Chunk];
        for (int s = 0; s < x.Length; s += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - s);
            var xs = x.Slice(s, n);
            GeluGate(xs, gate[..n]);
            // d/dx x·σ(2u) = σ + x·σ(1 − σ)·2u′, with 2u′ = 2√(2/π)(1 + 3c·x²); vectors then a scalar tail, with the
            // same operations in the same order.
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
                {
                    var xi = Vector512.Create(xs.Slice(i, Vector512<float>.Count));
                    var si = Vector512.Create(gate.Slice(i, Vector512<float>.Count));
                    var du2 = Vector512.Create(2 * SqrtTwoOverPi) * (Vector512<float>.One + Vector512.Create(3 * GeluCoefficient) * xi * xi);
                    var d = dx.Slice(s + i, Vector512<float>.Count);
                    (Vector512.Create(d) + Vector512.Create(dy.Slice(s + i, Vector512<float>.Count)) * (si + xi * si * (Vector512<float>.One - si) * du2)).CopyTo(d);
                }
            for (; i < n; i++)
            {
                float xi = xs[i], si = gate[i];
                float du2 = 2 * SqrtTwoOverPi * (1 + 3 * GeluCoefficient * xi * xi);
                dx[s + i] += dy[s + i] * (si + xi * si * (1 - si) * du2);
            }
        }
    }

    /// <summary>Exact GELU 0.5x(1 + erf(x/√2)).</summary>
    public static Tensor GeluExact(Tensor x) => Unary("gelu", x,
        static (x, y) => { for (int i = 0; i < y.Length; i++) y[i] = 0.5f * x[i] * (1 + Erf(x[i] * 0.70710678f)); },
        static (x, dy, dx) =>
        {
            for (int i = 0; i < dx.Length; i++)
            {
                float xi = x[i];
                float pdf = 0.3989422804f * MathF.Exp(-0.5f * xi * xi);
                dx[i] += dy[i] * (0.5f * (1 + Erf(xi * 0.70710678f)) + xi * pdf);
            }
        });

    /// <summary>Error function, from the Chebyshev fit of erfc in Numerical Recipes (relative error below 1.2e-7).</summary>
    public static float Erf(float xf)
    {
        double x = xf, z = Math.Abs(x), t = 1 / (1 + 0.5 * z);
        double erfc = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return (float)(x >= 0 ? 1 - erfc : erfc - 1);
    }

    /// <summary>Adds a constant.</summary>
    public static Tensor AddScalar(Tensor x, float s)
    {
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        TensorPrimitives.Add(x.Span, s, y.Span);
        Tape.Record(y, "add_scalar", () => TensorPrimitives.Add(x.EnsureGrad().Span, y.Grad!.Span, x.EnsureGrad().Span), x);
        return y;
    }

    /// <summary>Multiplies by a constant.</summary>
    public static Tensor MulScalar(Tensor x, float s)
    {
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        TensorPrimitives.Multiply(x.Span, s, y.Span);
        Tape.Record(y, "mul_scalar", () => TensorPrimitives.MultiplyAdd(y.Grad!.Span, s, x.EnsureGrad().Span, x.EnsureGrad().Span), x);
        return y;
    }

    /// <summary>Clamps into [min, max]; the gradient passes only where the input was inside (PyTorch's clamp).</summary>
    public static Tensor Clamp(Tensor x, float min, float max)
    {
        if (min > max) throw new ArgumentException($"clamp: min {min} is greater than max {max}.");
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        TensorPrimitives.Clamp(x.Span, min, max, y.Span);
        Tape.Record(y, "clamp", () =>
        {
            var xs = x.Span; var dy = y.Grad!.Span; var dx = x.EnsureGrad().Span;
            for (int i = 0; i < dx.Length; i++) if (xs[i] >= min && xs[i] <= max) dx[i] += dy[i];
        }, x);
        return y;
    }

    /// <summary>Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1−p).</summary>
    public static Tensor Dropout(Tensor x, float p, Rng rng)
    {
        if (p < 0 || p >= 1) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1)");
        if (p == 0) return x;
        // Kept float32 under bf16 activation storage: a rounded 1/(1 − p) would scale every gradient through it.
        var mask = Tensor.Uninitialized((int[])x.Shape.Clone());
        mask.KeepsFloat32 = true;
        var m = mask.Span;
        float scale = 1 / (1 - p);
        for (int i = 0; i < m.Length; i++) m[i] = rng.NextFloat() < p ? 0 : scale;
        var y = Tensor.Uninitialized((int[])x.Shape.Clone());
        TensorPrimitives.Multiply(x.Span, m, y.Span);
        Tape.Record(y, "dropout", () => TensorPrimitives.MultiplyAdd(y.Grad!.Span, mask.Span, x.EnsureGrad().Span, x.EnsureGrad().Span), x);
        return y;
    }

    /// <summary>Elementwise choice: where the condition is non-zero take a, else b (same shapes). PPO's clipping uses it.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        RequireSameShape("where", condition, a);
        RequireSameShape("where", a, b);
        var y = Tensor.Uninitialized((int[])a.Shape.Clone());
        var c = condition.Span; var sa = a.Span; var sb = b.Span; var sy = y.Span;
        for (int i = 0; i < sy.Length; i++) sy[i] = c[i] != 0 ? sa[i] : sb[i];
        Tape.Record(y, "where", () =>
        {
            var cs = condition.Span; var dy = y.Grad!.Span;
            if (a.RequiresGrad) { var da = a.EnsureGrad().Span; for (int i = 0; i < dy.Length; i++) if (cs[i] != 0) da[i] += dy[i]; }
            if (b.RequiresGrad) { var db = b.EnsureGrad().Span; for (int i = 0; i < dy.Length; i++) if (cs[i] == 0) db[i] += dy[i]; }
        }, a, b);
        return y;
    }

    /// <summary>Elementwise minimum (same shapes); at ties the gradient is split in half, as PyTorch does.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => MinMax("minimum", a, b, -1);

    /// <summary>Elementwise maximum (same shapes); at ties the gradient is split in half, as PyTorch does.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => MinMax("maximum", a, b, +1);

    private static Tensor MinMax(string op, Tensor a, Tensor b, int sign)
    {
        RequireSameShape(op, a, b);
        var y = Tensor.Uninitialized((int[])a.Shape.Clone());
        if (sign > 0) TensorPrimitives.Max(a.Span, b.Span, y.Span); else TensorPrimitives.Min(a.Span, b.Span, y.Span);
        Tape.Record(y, op, () =>
        {
            var sa = a.Span; var sb = b.Span; var dy = y.Grad!.Span;
            var da = a.RequiresGrad ? a.EnsureGrad().Span : default;
            var db = b.RequiresGrad ? b.EnsureGrad().Span : default;
            for (int i = 0; i < dy.Length; i++)
            {
                float wa = sa[i] == sb[i] ? 0.5f : (sign * (sa[i] - sb[i]) > 0 ? 1f : 0f);
                if (!da.IsEmpty) da[i] += wa * dy[i];
                if (!db.IsEmpty) db[i] += (1 - wa) * dy[i];
            }
        }, a, b);
        return y;
    }

    internal static void RequireSameShape(string op, Tensor a, Tensor b)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"{op}: shapes {Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)} must be equal.");
    }
}
