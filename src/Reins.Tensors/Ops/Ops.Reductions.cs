using System.Numerics.Tensors;

namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>Sum of all elements, as a one-element tensor.</summary>
    public static Tensor Sum(Tensor x)
    {
        var y = Tensor.Uninitialized([1]);
        y.Span[0] = SumDouble(x.Span);
        Tape.Record(y, "sum", () => TensorPrimitives.Add(x.EnsureGrad().Span, y.Grad!.Span[0], x.EnsureGrad().Span), x);
        return y;
    }

    /// <summary>Mean of all elements, as a one-element tensor.</summary>
    public static Tensor Mean(Tensor x) => MulScalar(Sum(x), 1f / Math.Max(1, x.Size));

    // Losses are sums of many small terms: accumulating in double keeps them independent of summation order noise.
    private static float SumDouble(ReadOnlySpan<float> s)
    {
        double acc = 0;
        foreach (var v in s) acc += v;
        return (float)acc;
    }

    private static (int Outer, int Dim, int Inner, int Axis) Split(string op, int[] shape, int axis)
    {
        int a = axis < 0 ? shape.Length + axis : axis;
        if (a < 0 || a >= shape.Length)
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for shape {Tensor.Format(shape)}.");
        int outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= shape[i];
        for (int i = a + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, shape[a], inner, a);
    }

    private static int[] Reduced(int[] shape, int axis, bool keepDim)
    {
        if (keepDim) { var s = (int[])shape.Clone(); s[axis] = 1; return s; }
        var r = new int[shape.Length - 1];
        for (int i = 0, j = 0; i < shape.Length; i++) if (i != axis) r[j++] = shape[i];
        return r.Length == 0 ? [1] : r;
    }

    /// <summary>Sum over one axis.</summary>
    public static Tensor Sum(Tensor x, int axis, bool keepDim = false)
    {
        var (outer, dim, inner, ax) = Split("sum", x.Shape, axis);
        var y = Tensor.Uninitialized(Reduced(x.Shape, ax, keepDim));
        var sx = x.Span; var sy = y.Span;
        sy.Clear();
        for (int o = 0; o < outer; o++)
            for (int d = 0; d < dim; d++)
                TensorPrimitives.Add(sy.Slice(o * inner, inner), sx.Slice((o * dim + d) * inner, inner), sy.Slice(o * inner, inner));
        Tape.Record(y, "sum_axis", () =>
        {
            var dy = y.Grad!.Span; var dx = x.EnsureGrad().Span;
            for (int o = 0; o < outer; o++)
                for (int d = 0; d < dim; d++)
                    TensorPrimitives.Add(dx.Slice((o * dim + d) * inner, inner), dy.Slice(o * inner, inner), dx.Slice((o * dim + d) * inner, inner));
        }, x);
        return y;
    }

    /// <summary>Mean over one axis.</summary>
    public static Tensor Mean(Tensor x, int axis, bool keepDim = false) =>
        MulScalar(Sum(x, axis, keepDim), 1f / Math.Max(1, x.Dim(axis)));

    /// <summary>Maximum over one axis; the gradient goes to the first maximal element.</summary>
    public static Tensor Max(Tensor x, int axis, bool keepDim = false)
    {
        var (outer, dim, inner, ax) = Split("max", x.Shape, axis);
        if (dim == 0) throw new ArgumentException($"max: axis {axis} of shape {Tensor.Format(x.Shape)} is empty.");
        var y = Tensor.Uninitialized(Reduced(x.Shape, ax, keepDim));
        var argmax = new int[outer * inner];
        var sx = x.Span; var sy = y.Span;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0; float bv = sx[o * dim * inner + i];
                for (int d = 1; d < dim; d++)
                {
                    float v = sx[(o * dim + d) * inner + i];
                    if (v > bv || float.IsNaN(v)) { bv = v; best = d; }
                }
                sy[o * inner + i] = bv;
                argmax[o * inner + i] = best;
            }
        Tape.Record(y, "max_axis", () =>
        {
            var dy = y.Grad!.Span; var dx = x.EnsureGrad().Span;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                    dx[(o * dim + argmax[o * inner + i]) * inner + i] += dy[o * inner + i];
        }, x);
        return y;
    }
}
