using System.Numerics.Tensors;

namespace Reins.Tensors;

public static partial class Ops
{
    private enum BinaryKind { Add, Sub, Mul, Div }

    /// <summary>a + b with NumPy broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary("add", a, b, BinaryKind.Add);
    /// <summary>a − b with NumPy broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => Binary("sub", a, b, BinaryKind.Sub);
    /// <summary>a ⊙ b with NumPy broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => Binary("mul", a, b, BinaryKind.Mul);
    /// <summary>a ⊘ b with NumPy broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b) => Binary("div", a, b, BinaryKind.Div);

    /// <summary>
    /// How each operand maps onto the output, one output row (last axis) at a time: a row of an operand is
    /// either a matching row (inner stride 1) or one value repeated (inner stride 0, e.g. a [N,1] column).
    /// </summary>
    private readonly struct Broadcast
    {
        private readonly int[] outShape, stridesA, stridesB;
        public readonly int Rows, Inner, InnerStrideA, InnerStrideB;

        public Broadcast(string op, int[] a, int[] b)
        {
            int rank = Math.Max(a.Length, b.Length);
            outShape = new int[rank];
            stridesA = new int[rank];
            stridesB = new int[rank];
            int sa = 1, sb = 1;
            for (int i = 1; i <= rank; i++)
            {
                int da = i <= a.Length ? a[^i] : 1, db = i <= b.Length ? b[^i] : 1;
                if (da != db && da != 1 && db != 1)
                    throw new ArgumentException($"{op}: shapes {Tensor.Format(a)} and {Tensor.Format(b)} cannot be broadcast (axis -{i}: {da} vs {db}).");
                int d = Math.Max(da, db);
                outShape[^i] = d;
                stridesA[^i] = da == 1 ? 0 : sa;
                stridesB[^i] = db == 1 ? 0 : sb;
                sa *= da; sb *= db;
            }
            Inner = rank == 0 ? 1 : outShape[^1];
            Rows = Inner == 0 ? 0 : Tensor.ShapeSize(outShape) / Inner;
            InnerStrideA = rank == 0 ? 1 : stridesA[^1];
            InnerStrideB = rank == 0 ? 1 : stridesB[^1];
        }

        public int[] OutShape => outShape;

        public (int A, int B) RowOffsets(int row)
        {
            int oa = 0, ob = 0;
            for (int d = outShape.Length - 2; d >= 0 && row > 0; d--)
            {
                int idx = row % outShape[d];
                row /= outShape[d];
                oa += idx * stridesA[d];
                ob += idx * stridesB[d];
            }
            return (oa, ob);
        }
    }

    private static Tensor Binary(string op, Tensor a, Tensor b, BinaryKind kind)
    {
        var plan = new Broadcast(op, a.Shape, b.Shape);
        var y = Tensor.Uninitialized(plan.OutShape);
        int n = plan.Inner;
        // Each output row is written once, so rows run in parallel.
        Engine.ForRanges(plan.Rows, RowPiece(n), (r0, count) => BinaryRows(plan, kind, a.Span, b.Span, y.Span, r0, count));
        Tape.Record(y, op, () => BinaryBackward(plan, kind, a, b, y), a, b);
        return y;
    }

    private static void BinaryRows(Broadcast plan, BinaryKind kind, ReadOnlySpan<float> sa, ReadOnlySpan<float> sb, Span<float> sy, int r0, int count)
    {
        int n = plan.Inner;
        for (int r = r0; r < r0 + count; r++)
        {
            var (oa, ob) = plan.RowOffsets(r);
            var row = sy.Slice(r * n, n);
            ReadOnlySpan<float> ra = plan.InnerStrideA == 1 ? sa.Slice(oa, n) : default, rb = plan.InnerStrideB == 1 ? sb.Slice(ob, n) : default;
            switch (kind)
            {
                case BinaryKind.Add:
                    if (ra.IsEmpty && rb.IsEmpty) row.Fill(sa[oa] + sb[ob]);
                    else if (ra.IsEmpty) TensorPrimitives.Add(rb, sa[oa], row);
                    else if (rb.IsEmpty) TensorPrimitives.Add(ra, sb[ob], row);
                    else TensorPrimitives.Add(ra, rb, row);
                    break;
                case BinaryKind.Sub:
                    if (ra.IsEmpty && rb.IsEmpty) row.Fill(sa[oa] - sb[ob]);
                    else if (ra.IsEmpty) TensorPrimitives.Subtract(sa[oa], rb, row);
                    else if (rb.IsEmpty) TensorPrimitives.Subtract(ra, sb[ob], row);
                    else TensorPrimitives.Subtract(ra, rb, row);
                    break;
                case BinaryKind.Mul:
                    if (ra.IsEmpty && rb.IsEmpty) row.Fill(sa[oa] * sb[ob]);
                    else if (ra.IsEmpty) TensorPrimitives.Multiply(rb, sa[oa], row);
                    else if (rb.IsEmpty) TensorPrimitives.Multiply(ra, sb[ob], row);
                    else TensorPrimitives.Multiply(ra, rb, row);
                    break;
                case BinaryKind.Div:
                    if (ra.IsEmpty && rb.IsEmpty) row.Fill(sa[oa] / sb[ob]);
                    else if (ra.IsEmpty) TensorPrimitives.Divide(sa[oa], rb, row);
                    else if (rb.IsEmpty) TensorPrimitives.Divide(ra, sb[ob], row);
                    else TensorPrimitives.Divide(ra, rb, row);
                    break;
            }
        }
    }

    // d(a∘b)/da and /db per output element, summed back over broadcast axes into each operand's gradient.
    private static void BinaryBackward(Broadcast plan, BinaryKind kind, Tensor a, Tensor b, Tensor y)
    {
        var da = a.RequiresGrad ? a.EnsureGrad() : null;
        var db = b.RequiresGrad ? b.EnsureGrad() : null;
        // Rows may run in parallel only when no operand is broadcast, so that no two rows add into one gradient element.
        bool disjoint = a.Size == y.Size && b.Size == y.Size;
        bool readsValues = ReadsOperands(kind);
        Engine.ForRanges(plan.Rows, disjoint ? RowPiece(plan.Inner) : Math.Max(1, plan.Rows), (r0, count) =>
            BinaryBackwardRows(plan, kind, readsValues ? a.Reader() : default, readsValues ? b.Reader() : default, y.Grad!.Span,
                da is null ? default : da.Span, db is null ? default : db.Span, r0, count));
    }

    // A sum's or difference's gradient needs neither operand: they are not read, so packed ones stay packed.
    private static bool ReadsOperands(BinaryKind kind) => kind is BinaryKind.Mul or BinaryKind.Div;

    private static void BinaryBackwardRows(Broadcast plan, BinaryKind kind, ValueReader sa, ValueReader sb, ReadOnlySpan<float> dy,
        Span<float> da, Span<float> db, int r0, int count)
    {
        int n = plan.Inner;
        Span<float> temp = new float[n];
        bool readsValues = ReadsOperands(kind);
        Span<float> scratchA = readsValues ? new float[n] : default, scratchB = readsValues ? new float[n] : default;
        for (int r = r0; r < r0 + count; r++)
        {
            var (oa, ob) = plan.RowOffsets(r);
            var g = dy.Slice(r * n, n);
            // Row r's operand values (one value where an operand is broadcast along the row), when the gradient reads them.
            ReadOnlySpan<float> ra = default, rb = default;
            if (readsValues)
            {
                if (!db.IsEmpty) ra = sa.Read(oa, plan.InnerStrideA == 1 ? n : 1, scratchA);
                if (!da.IsEmpty || kind == BinaryKind.Div) rb = sb.Read(ob, plan.InnerStrideB == 1 ? n : 1, scratchB);
            }
            if (!da.IsEmpty)
            {
                // Local gradient wrt a: 1 (add, sub), b (mul), 1/b (div).
                ReadOnlySpan<float> contribution = g;
                if (kind is BinaryKind.Mul or BinaryKind.Div)
                {
                    if (plan.InnerStrideB == 1)
                    {
                        if (kind == BinaryKind.Mul) TensorPrimitives.Multiply(g, rb, temp);
                        else TensorPrimitives.Divide(g, rb, temp);
                    }
                    else TensorPrimitives.Multiply(g, kind == BinaryKind.Mul ? rb[0] : 1 / rb[0], temp);
                    contribution = temp;
                }
                Accumulate(da, oa, plan.InnerStrideA, contribution, 1f);
            }
            if (!db.IsEmpty)
            {
                // Local gradient wrt b: 1 (add), −1 (sub), a (mul), −a/b² (div).
                ReadOnlySpan<float> contribution = g;
                float sign = kind == BinaryKind.Sub ? -1f : 1f;
                if (kind == BinaryKind.Mul)
                {
                    if (plan.InnerStrideA == 1) TensorPrimitives.Multiply(g, ra, temp);
                    else TensorPrimitives.Multiply(g, ra[0], temp);
                    contribution = temp;
                }
                else if (kind == BinaryKind.Div)
                {
                    for (int i = 0; i < n; i++)
                    {
                        float av = plan.InnerStrideA == 1 ? ra[i] : ra[0];
                        float bv = plan.InnerStrideB == 1 ? rb[i] : rb[0];
                        temp[i] = -g[i] * av / (bv * bv);
                    }
                    contribution = temp;
                }
                Accumulate(db, ob, plan.InnerStrideB, contribution, sign);
            }
        }
    }

    private static void Accumulate(Span<float> grad, int offset, int innerStride, ReadOnlySpan<float> row, float sign)
    {
        if (innerStride == 1) TensorPrimitives.MultiplyAdd(row, sign, grad.Slice(offset, row.Length), grad.Slice(offset, row.Length));
        else grad[offset] += sign * TensorPrimitives.Sum(row);
    }
}
