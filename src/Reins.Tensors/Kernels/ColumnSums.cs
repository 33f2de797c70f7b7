using System.Runtime.Intrinsics;

namespace Reins.Tensors.Kernels;

/// <summary>
/// Sums over rows into columns — the gradients of per-column parameters: a bias (Σ_r dy), a norm's weight
/// (Σ_r dy · x̂) and bias. Each column is summed in row order, so a split of the columns between threads gives the same
/// bits for any thread count; sixteen columns' running sums stay in registers over all the rows, where a call per row
/// on a short slice re-read and re-wrote them and cost more than the arithmetic.
/// </summary>
internal static unsafe class ColumnSums
{
    /// <summary>sums[c] += Σ_r g[r·ld + c] for c in [c0, c0 + width).</summary>
    public static void Add(float* g, int rows, int ld, int c0, int width, float* sums) =>
        Accumulate<float, Fp32Storage>(g, null, null, null, rows, ld, c0, width, null, sums);

    /// <summary>
    /// For the columns [c0, c0 + width) of g and x [rows, ld]: weightSums[c] += Σ_r g[r,c] · ((x[r,c] − shift[r]) ·
    /// scale[r]) — x̂ as a norm's forward made it — and biasSums[c] += Σ_r g[r,c]; either may be null. x is read
    /// as it is stored (<typeparamref name="TF"/>).
    /// </summary>
    public static void AddNormalized<TX, TF>(float* g, TX* x, float* shift, float* scale, int rows, int ld, int c0, int width, float* weightSums, float* biasSums)
        where TX : unmanaged where TF : IStorageFormat<TX> =>
        Accumulate<TX, TF>(g, x, shift, scale, rows, ld, c0, width, weightSums, biasSums);

    // The operations and their order are those of the row-at-a-time loop (x̂ = (x − shift)·scale; w += g·x̂; b += g),
    // vectors first, then a scalar tail of the same operations.
    private static void Accumulate<TX, TF>(float* g, TX* x, float* shift, float* scale, int rows, int ld, int c0, int width, float* weightSums, float* biasSums)
        where TX : unmanaged where TF : IStorageFormat<TX>
    {
        int c = c0, end = c0 + width;
        if (Vector512.IsHardwareAccelerated)
            for (; c + Vector512<float>.Count <= end; c += Vector512<float>.Count)
            {
                var w = weightSums == null ? default : Vector512.Load(weightSums + c);
                var b = biasSums == null ? default : Vector512.Load(biasSums + c);
                for (int r = 0; r < rows; r++)
                {
                    var gy = Vector512.Load(g + (long)r * ld + c);
                    if (weightSums != null)
                        w = gy * ((TF.Load16(x + (long)r * ld + c) - Vector512.Create(shift[r])) * Vector512.Create(scale[r])) + w;
                    if (biasSums != null) b += gy;
                }
                if (weightSums != null) w.Store(weightSums + c);
                if (biasSums != null) b.Store(biasSums + c);
            }
        for (; c < end; c++)
        {
            float w = weightSums == null ? 0 : weightSums[c], b = biasSums == null ? 0 : biasSums[c];
            for (int r = 0; r < rows; r++)
            {
                float gy = g[(long)r * ld + c];
                if (weightSums != null) w = gy * ((TF.Get(x + (long)r * ld + c) - shift[r]) * scale[r]) + w;
                if (biasSums != null) b += gy;
            }
            if (weightSums != null) weightSums[c] = w;
            if (biasSums != null) biasSums[c] = b;
        }
    }
}
