namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>A view with a new shape (one extent may be −1). Free: data and gradient storage are shared.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        var s = (int[])shape.Clone();
        int infer = -1, known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"reshape: only one extent may be -1, got {Tensor.Format(shape)}.");
                infer = i;
            }
            else known *= s[i];
        }
        if (infer >= 0) s[infer] = known == 0 ? 0 : x.Size / known;
        if (Tensor.ShapeSize(s) != x.Size)
            throw new ArgumentException($"reshape: cannot view {Tensor.Format(x.Shape)} ({x.Size} elements) as {Tensor.Format(shape)}.");
        var y = x.View(s);
        y.Op = "reshape";
        return y;
    }

    /// <summary>Rows [start, start+length) of the leading axis, as a view sharing storage.</summary>
    public static Tensor Narrow0(Tensor x, int start, int length)
    {
        if (start < 0 || length < 0 || start + length > x.Shape[0])
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow: rows [{start}, {start + length}) outside leading extent {x.Shape[0]} of {Tensor.Format(x.Shape)}.");
        var shape = (int[])x.Shape.Clone();
        shape[0] = length;
        int rowSize = x.Shape[0] == 0 ? 0 : x.Size / x.Shape[0];
        var y = x.View(shape, start * rowSize);
        y.Op = "narrow";
        return y;
    }

    /// <summary>Elements [start, start+length) along <paramref name="axis"/> (a copy).</summary>
    public static Tensor Slice(Tensor x, int axis, int start, int length)
    {
        var (outer, dim, inner, ax) = Split("slice", x.Shape, axis);
        if (start < 0 || length < 0 || start + length > dim)
            throw new ArgumentOutOfRangeException(nameof(start), $"slice: [{start}, {start + length}) outside axis {axis} (extent {dim}) of {Tensor.Format(x.Shape)}.");
        var shape = (int[])x.Shape.Clone();
        shape[ax] = length;
        var y = Tensor.Uninitialized(shape);
        int block = length * inner;
        for (int o = 0; o < outer; o++) x.Span.Slice((o * dim + start) * inner, block).CopyTo(y.Span.Slice(o * block, block));
        Tape.Record(y, "slice", () =>
        {
            var dy = y.Grad!.Span; var dx = x.EnsureGrad().Span;
            for (int o = 0; o < outer; o++)
                System.Numerics.Tensors.TensorPrimitives.Add(dx.Slice((o * dim + start) * inner, block), dy.Slice(o * block, block), dx.Slice((o * dim + start) * inner, block));
        }, x);
        return y;
    }

    /// <summary>Joins tensors along <paramref name="axis"/>; all other extents must match.</summary>
    public static Tensor Concat(int axis, params Tensor[] parts)
    {
        if (parts.Length == 0) throw new ArgumentException("concat: needs at least one tensor.");
        var first = parts[0];
        var (outer, _, inner, ax) = Split("concat", first.Shape, axis);
        int total = 0;
        foreach (var p in parts)
        {
            if (p.Rank != first.Rank) throw new ArgumentException($"concat: ranks differ, {Tensor.Format(first.Shape)} vs {Tensor.Format(p.Shape)}.");
            for (int i = 0; i < p.Rank; i++)
                if (i != ax && p.Shape[i] != first.Shape[i])
                    throw new ArgumentException($"concat along axis {axis}: {Tensor.Format(first.Shape)} and {Tensor.Format(p.Shape)} differ on axis {i}.");
            total += p.Shape[ax];
        }
        var shape = (int[])first.Shape.Clone();
        shape[ax] = total;
        var y = Tensor.Uninitialized(shape);
        int outRow = total * inner;
        for (int o = 0, start = 0; o < outer; o++, start = 0)
            foreach (var p in parts)
            {
                int block = p.Shape[ax] * inner;
                p.Span.Slice(o * block, block).CopyTo(y.Span.Slice(o * outRow + start, block));
                start += block;
            }
        Tape.Record(y, "concat", () =>
        {
            var dy = y.Grad!.Span;
            int start = 0;
            foreach (var p in parts)
            {
                int block = p.Shape[ax] * inner;
                if (p.RequiresGrad)
                {
                    var dp = p.EnsureGrad().Span;
                    for (int o = 0; o < outer; o++)
                        System.Numerics.Tensors.TensorPrimitives.Add(dp.Slice(o * block, block), dy.Slice(o * outRow + start, block), dp.Slice(o * block, block));
                }
                start += block;
            }
        }, parts);
        return y;
    }

    /// <summary>Swaps two axes (a copy; the models avoid it by having kernels read strided operands).</summary>
    public static Tensor Transpose(Tensor x, int axis0, int axis1)
    {
        int r = x.Rank;
        int a0 = axis0 < 0 ? r + axis0 : axis0, a1 = axis1 < 0 ? r + axis1 : axis1;
        if (a0 < 0 || a0 >= r || a1 < 0 || a1 >= r)
            throw new ArgumentOutOfRangeException(nameof(axis0), $"transpose: axes {axis0},{axis1} out of range for {Tensor.Format(x.Shape)}.");
        var shape = (int[])x.Shape.Clone();
        (shape[a0], shape[a1]) = (shape[a1], shape[a0]);
        var perm = Enumerable.Range(0, r).ToArray();
        (perm[a0], perm[a1]) = (perm[a1], perm[a0]);
        var y = Tensor.Uninitialized(shape);
        Permute(x.Span, x.Shape, perm, y.Span, accumulate: false);
        Tape.Record(y, "transpose", () => Permute(y.Grad!.Span, shape, perm, x.EnsureGrad().Span, accumulate: true), x);
        return y;
    }

    // Writes dst = src with axes permuted (dst axis i is src axis perm[i]); perm is its own inverse for a swap.
    private static void Permute(ReadOnlySpan<float> src, int[] srcShape, int[] perm, Span<float> dst, bool accumulate)
    {
        int r = srcShape.Length;
        var srcStride = new int[r];
        for (int i = r - 1, s = 1; i >= 0; i--) { srcStride[i] = s; s *= srcShape[i]; }
        var dstShape = new int[r];
        var stride = new int[r];
        for (int i = 0; i < r; i++) { dstShape[i] = srcShape[perm[i]]; stride[i] = srcStride[perm[i]]; }
        var idx = new int[r];
        int so = 0;
        for (int o = 0; o < dst.Length; o++)
        {
            if (accumulate) dst[o] += src[so]; else dst[o] = src[so];
            for (int d = r - 1; d >= 0; d--)
            {
                so += stride[d];
                if (++idx[d] < dstShape[d]) break;
                so -= stride[d] * dstShape[d];
                idx[d] = 0;
            }
        }
    }
}
