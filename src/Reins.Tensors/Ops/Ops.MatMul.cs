using System.Numerics.Tensors;
using Reins.Tensors.Kernels;

namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>
    /// op(A)·op(B) over the last two axes, where op transposes when asked. A [..., m, k] (or [..., k, m]);
    /// B either [k, n] (or [n, k]) shared across A's batch, or batched with the same leading axes as A.
    /// </summary>
    public static unsafe Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"matmul: operands need rank ≥ 2, got {Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)}.");
        int m = transA ? a.Dim(-1) : a.Dim(-2), ka = transA ? a.Dim(-2) : a.Dim(-1);
        int kb = transB ? b.Dim(-1) : b.Dim(-2), n = transB ? b.Dim(-2) : b.Dim(-1);
        if (ka != kb)
            throw new ArgumentException($"matmul{(transA ? " (A transposed)" : "")}{(transB ? " (B transposed)" : "")}: inner dimensions differ, {Tensor.Format(a.Shape)} gives k={ka}, {Tensor.Format(b.Shape)} gives k={kb}.");
        int batch = a.Size / Math.Max(1, a.Dim(-1) * a.Dim(-2));
        bool shared = b.Rank == 2;
        if (!shared)
        {
            if (b.Rank != a.Rank || !a.Shape.AsSpan(0, a.Rank - 2).SequenceEqual(b.Shape.AsSpan(0, b.Rank - 2)))
                throw new ArgumentException($"matmul: batch axes of {Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)} must match (or B must be 2-D).");
        }
        var shape = (int[])a.Shape.Clone();
        shape[^2] = m; shape[^1] = n;
        var y = Tensor.Uninitialized(shape);
        int k = ka;
        // A shared B with an untransposed A folds the batch into one tall GEMM, the common x·W case.
        bool fold = shared && !transA;
        int groups = fold ? 1 : batch, rowsA = fold ? batch * m : m;
        long strideA = fold ? 0 : (long)m * k, strideB = shared ? 0 : (long)k * n, strideY = fold ? 0 : (long)m * n;
        int lda = transA ? m : k, ldb = transB ? k : n;
        for (int g = 0; g < groups; g++)
            Gemm.Multiply(transA, transB, rowsA, n, k, a.Ptr + g * strideA, lda, b.Ptr + g * strideB, ldb, y.Ptr + g * strideY, n, false, Engine.Threads);
        Tape.Record(y, "matmul", () =>
        {
            float* dy = y.Grad!.Ptr;
            if (a.RequiresGrad)
            {
                float* da = a.EnsureGrad().Ptr;
                for (int g = 0; g < groups; g++)
                {
                    if (!transA) // dA = dY·op(B)ᵀ
                        Gemm.Multiply(false, !transB, rowsA, k, n, dy + g * strideY, n, b.Ptr + g * strideB, ldb, da + g * strideA, k, true, Engine.Threads);
                    else         // A stored [k,m]: dA = op(B)·dYᵀ
                        Gemm.Multiply(transB, true, k, m, n, b.Ptr + g * strideB, ldb, dy + g * strideY, n, da + g * strideA, m, true, Engine.Threads);
                }
            }
            if (b.RequiresGrad)
            {
                float* db = b.EnsureGrad().Ptr;
                for (int g = 0; g < groups; g++)
                {
                    if (!transB) // dB = op(A)ᵀ·dY, summed over the batch when B is shared
                        Gemm.Multiply(!transA, false, k, n, rowsA, a.Ptr + g * strideA, lda, dy + g * strideY, n, db + g * strideB, n, true, Engine.Threads);
                    else         // B stored [n,k]: dB = dYᵀ·op(A)
                        Gemm.Multiply(true, transA, n, k, rowsA, dy + g * strideY, n, a.Ptr + g * strideA, lda, db + g * strideB, k, true, Engine.Threads);
                }
            }
        }, a, b);
        return y;
    }

    /// <summary>How a linear layer's weight is stored.</summary>
    public enum WeightLayout
    {
        /// <summary>[out, in], y = x·Wᵀ (torch.nn.Linear, Llama).</summary>
        OutIn,
        /// <summary>[in, out], y = x·W (GPT-2's Conv1D).</summary>
        InOut,
    }

    /// <summary>An affine layer y = x·W (+ b) over the last axis of x, with the bias fused into the GEMM's output.</summary>
    public static unsafe Tensor Linear(Tensor x, Tensor weight, Tensor? bias, WeightLayout layout)
    {
        bool transB = layout == WeightLayout.OutIn;
        int k = x.Dim(-1);
        int wk = transB ? weight.Dim(1) : weight.Dim(0), n = transB ? weight.Dim(0) : weight.Dim(1);
        if (weight.Rank != 2 || wk != k)
            throw new ArgumentException($"linear: input {Tensor.Format(x.Shape)} has {k} features but weight {weight.Name} {Tensor.Format(weight.Shape)} ({layout}) expects {wk}.");
        if (bias is not null && (bias.Rank != 1 || bias.Size != n))
            throw new ArgumentException($"linear: bias {bias.Name} {Tensor.Format(bias.Shape)} does not match {n} outputs.");
        int rows = x.Size / Math.Max(1, k);
        var shape = (int[])x.Shape.Clone();
        shape[^1] = n;
        var y = Tensor.Uninitialized(shape);
        // Decoding reads a weight's bf16 copy when no gradient is recorded; a weight kept as bf16 only is always read so.
        var half = weight.Bf16 is { } h && (weight.Bf16Only || !Tape.IsRecording) ? h : null;
        // A transposed copy of an [in, out] weight is [out, in]: read as the other layout.
        bool t = half is null ? transB : transB || weight.Bf16Transposed;
        int ldw = t ? k : n;
        float* biasPtr = bias is null ? null : bias.Ptr;
        // Sampling with int8 weights (rollout_dtype int8): sums over the codes, each output scaled after (Int8Matrix).
        if (!Tape.IsRecording && weight.Int8 is { } q)
        {
            fixed (sbyte* w = q.Values) Gemm.Multiply<sbyte, Int8Storage>(false, true, rows, n, k, x.Ptr, k, w, k, y.Ptr, n, false, Engine.Threads);
            Engine.ForRanges(rows, RowPiece(n), (r0, count) => q.ScaleOutputs(y.Span.Slice(r0 * n, count * n), count, bias is null ? default : bias.Span));
        }
        else if (half is null) Gemm.Multiply(false, t, rows, n, k, x.Ptr, k, weight.Ptr, ldw, y.Ptr, n, false, Engine.Threads, biasPtr);
        else fixed (ushort* w = half) Gemm.Multiply(false, t, rows, n, k, x.Ptr, k, w, ldw, y.Ptr, n, false, Engine.Threads, biasPtr);
        Tape.Record(y, half is null ? "linear" : "linear_bf16", () =>
        {
            float* dy = y.Grad!.Ptr;
            if (x.RequiresGrad)
            {
                var dx = x.GradToWrite(out bool overwrite);
                if (half is null) Gemm.Multiply(false, !t, rows, k, n, dy, n, weight.Ptr, ldw, dx.Ptr, k, !overwrite, Engine.Threads);
                else fixed (ushort* w = half) Gemm.Multiply(false, !t, rows, k, n, dy, n, w, ldw, dx.Ptr, k, !overwrite, Engine.Threads);
            }
            // A weight read as bf16 is frozen (StoreAsBf16Only refuses a trained one), so this reads float32 values. An
            // input packed as bf16 (Bf16SavedActivations) is read as it is, as it is packed into the GEMM's panels.
            if (weight.RequiresGrad)
            {
                float* dw = weight.EnsureGrad().Ptr;
                ushort* xh = x.PackedPtr;
                if (xh != null && transB) Gemm.Multiply<ushort, Bf16Storage>(true, false, n, k, rows, dy, n, xh, k, dw, k, true, Engine.Threads);
                else if (xh != null) Gemm.Multiply<ushort, Bf16Storage, float, Fp32Storage>(true, false, k, n, rows, xh, k, dy, n, dw, n, true, Engine.Threads);
                else if (transB) Gemm.Multiply(true, false, n, k, rows, dy, n, x.Ptr, k, dw, k, true, Engine.Threads);
                else Gemm.Multiply(true, false, k, n, rows, x.Ptr, k, dy, n, dw, n, true, Engine.Threads);
            }
            if (bias is { RequiresGrad: true })
            {
                var db = bias.EnsureGrad();
                Engine.ForRanges(n, ColumnPiece(n), (c0, width) => ColumnSums.Add(y.Grad!.Ptr, rows, n, c0, width, db.Ptr));
            }
        }, x, weight, bias);
        return y;
    }
}
