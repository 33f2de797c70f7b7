using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Reins.Tensors.Kernels;

/// <summary>
/// Single-precision GEMM in the Goto/BLIS style: op(B) is packed into KC×NR panels and op(A) into MR×KC panels, so
/// one register-tiled micro-kernel (MR×NR = 6×32 with AVX-512: twelve accumulators) serves all four transpose cases.
/// Each element of C is summed by exactly one thread in the same k order, so results do not depend on the thread count.
/// </summary>
public static unsafe class Gemm
{
    private const int MR = 6, NR = 32;
    // KC·NR·4 B = 32 KB streams through L1 per micro-panel; MC·KC·4 B = 96 KB of packed A stays in L2;
    // KC·NC·4 B = 2 MB of packed B stays in L3. Chosen by measurement (BENCHMARKS.md).
    private const int KC = 256, MC = 96, NC = 2048;

    [ThreadStatic] private static float[]? packA, packB;

    /// <summary>
    /// C[m×n] = op(A)·op(B) + (accumulate ? C : 0). op(A) is m×k: A is stored row-major [m×k] with leading dimension lda,
    /// or, when transA, as [k×m]. op(B) is k×n: B stored [k×n] (ldb), or when transB [n×k]. C is [m×n] with leading
    /// dimension ldc. threads: how many threads may be used (1 = the caller's thread only).
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int threads)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
            return;
        }
        // Thin products (decode steps, per-sequence heads) are bandwidth-bound: packing would only add traffic.
        if (m <= 4 && !transA)
        {
            Thin(transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        long work = (long)m * n * k;
        int workers = work < 4_000_000 ? 1 : Math.Min(threads, 8);
        if (workers <= 1)
        {
            Blocked(transA, transB, 0, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        // Split the larger output dimension into independent stripes, aligned to the register tile.
        bool splitN = n >= m;
        int extent = splitN ? n : m, align = splitN ? NR : MR;
        int per = (extent / workers + align - 1) / align * align;
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            int s = Math.Min(extent, w * per), e = Math.Min(extent, s + per);
            if (w == workers - 1) e = extent;
            if (s >= e) return;
            if (splitN) Blocked(transA, transB, 0, m, s, e, k, (float*)pa, lda, (float*)pb, ldb, (float*)pc, ldc, accumulate);
            else Blocked(transA, transB, s, e, 0, n, k, (float*)pa, lda, (float*)pb, ldb, (float*)pc, ldc, accumulate);
        });
    }

    private static void Blocked(bool transA, bool transB, int m0, int m1, int n0, int n1, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        packA ??= GC.AllocateUninitializedArray<float>(MC * KC, pinned: true);
        packB ??= GC.AllocateUninitializedArray<float>(KC * (NC + NR), pinned: true);
        float* pa = (float*)Unsafe.AsPointer(ref packA[0]);
        float* pb = (float*)Unsafe.AsPointer(ref packB[0]);
        float* edge = stackalloc float[MR * NR];
        for (int jc = n0; jc < n1; jc += NC)
        {
            int nc = Math.Min(NC, n1 - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                bool add = accumulate || pc > 0;
                PackB(transB, b, ldb, pc, kc, jc, nc, pb);
                for (int ic = m0; ic < m1; ic += MC)
                {
                    int mc = Math.Min(MC, m1 - ic);
                    PackA(transA, a, lda, ic, mc, pc, kc, pa);
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mr = Math.Min(MR, mc - ir);
                            float* cTile = c + (long)(ic + ir) * ldc + jc + jr;
                            if (mr == MR && nr == NR)
                                Kernel(kc, pa + ir * kc, pb + jr * kc, cTile, ldc, add);
                            else
                            {
                                // Edge tile: compute the full tile into scratch, then merge only the valid part.
                                Kernel(kc, pa + ir * kc, pb + jr * kc, edge, NR, false);
                                for (int i = 0; i < mr; i++)
                                    for (int j = 0; j < nr; j++)
                                        cTile[(long)i * ldc + j] = add ? cTile[(long)i * ldc + j] + edge[i * NR + j] : edge[i * NR + j];
                            }
                        }
                    }
                }
            }
        }
    }

    // Packs op(B)[pc:pc+kc, jc:jc+nc] as consecutive kc×NR panels (row p of a panel = NR contiguous floats), zero-padded.
    private static void PackB(bool transB, float* b, int ldb, int pc, int kc, int jc, int nc, float* dst)
    {
        for (int jr = 0; jr < nc; jr += NR)
        {
            int nr = Math.Min(NR, nc - jr);
            float* panel = dst + jr * kc;
            if (!transB)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (long)(pc + p) * ldb + jc + jr;
                    float* d = panel + p * NR;
                    if (nr == NR)
                    {
                        Vector512.Store(Vector512.Load(src), d);
                        Vector512.Store(Vector512.Load(src + 16), d + 16);
                    }
                    else
                    {
                        for (int j = 0; j < nr; j++) d[j] = src[j];
                        for (int j = nr; j < NR; j++) d[j] = 0;
                    }
                }
            }
            else
            {
                // B is [n×k]: each output column j is a contiguous row of B.
                for (int j = 0; j < nr; j++)
                {
                    float* src = b + (long)(jc + jr + j) * ldb + pc;
                    for (int p = 0; p < kc; p++) panel[p * NR + j] = src[p];
                }
                for (int j = nr; j < NR; j++)
                    for (int p = 0; p < kc; p++) panel[p * NR + j] = 0;
            }
        }
    }

    // Packs op(A)[ic:ic+mc, pc:pc+kc] as consecutive MR×kc panels stored k-major (MR values per k), zero-padded.
    private static void PackA(bool transA, float* a, int lda, int ic, int mc, int pc, int kc, float* dst)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            float* panel = dst + ir * kc;
            if (transA)
            {
                // A is [k×m]: for each p the MR values are contiguous.
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)(pc + p) * lda + ic + ir;
                    float* d = panel + p * MR;
                    int i = 0;
                    for (; i < mr; i++) d[i] = src[i];
                    for (; i < MR; i++) d[i] = 0;
                }
            }
            else
            {
                for (int i = 0; i < mr; i++)
                {
                    float* src = a + (long)(ic + ir + i) * lda + pc;
                    for (int p = 0; p < kc; p++) panel[p * MR + i] = src[p];
                }
                for (int i = mr; i < MR; i++)
                    for (int p = 0; p < kc; p++) panel[p * MR + i] = 0;
            }
        }
    }

    // The 6×32 micro-kernel: twelve Vector512 accumulators, two B loads and six broadcasts per k step.
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(int kc, float* a, float* b, float* c, int ldc, bool add)
    {
        if (!Vector512.IsHardwareAccelerated) { Kernel256(kc, a, b, c, ldc, add); return; }
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                         c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            a += MR;
            b += NR;
        }
        Store(c, c00, c01, add); Store(c + ldc, c10, c11, add); Store(c + 2 * ldc, c20, c21, add);
        Store(c + 3 * ldc, c30, c31, add); Store(c + 4 * ldc, c40, c41, add); Store(c + 5 * ldc, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> lo, Vector512<float> hi, bool add)
    {
        if (add) { lo += Vector512.Load(c); hi += Vector512.Load(c + 16); }
        Vector512.Store(lo, c);
        Vector512.Store(hi, c + 16);
    }

    // Fallback for CPUs without AVX-512: the same 6×32 tile as four Vector256 columns per row.
    private static void Kernel256(int kc, float* a, float* b, float* c, int ldc, bool add)
    {
        var acc = stackalloc Vector256<float>[MR * 4];
        for (int i = 0; i < MR * 4; i++) acc[i] = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8); var b2 = Vector256.Load(b + 16); var b3 = Vector256.Load(b + 24);
            for (int r = 0; r < MR; r++)
            {
                var x = Vector256.Create(a[r]);
                acc[r * 4] = Vector256.FusedMultiplyAdd(x, b0, acc[r * 4]);
                acc[r * 4 + 1] = Vector256.FusedMultiplyAdd(x, b1, acc[r * 4 + 1]);
                acc[r * 4 + 2] = Vector256.FusedMultiplyAdd(x, b2, acc[r * 4 + 2]);
                acc[r * 4 + 3] = Vector256.FusedMultiplyAdd(x, b3, acc[r * 4 + 3]);
            }
            a += MR;
            b += NR;
        }
        for (int r = 0; r < MR; r++)
            for (int q = 0; q < 4; q++)
            {
                float* dst = c + (long)r * ldc + q * 8;
                var v = acc[r * 4 + q];
                if (add) v += Vector256.Load(dst);
                Vector256.Store(v, dst);
            }
    }

    // m ≤ 4 rows: C[i,:] = Σ_p A[i,p]·B[p,:] as vector AXPYs over B's rows, or dot products when B is [n×k].
    private static void Thin(bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            float* ci = c + (long)i * ldc;
            float* ai = a + (long)i * lda;
            if (transB)
            {
                var arow = new ReadOnlySpan<float>(ai, k);
                for (int j = 0; j < n; j++)
                {
                    float dot = System.Numerics.Tensors.TensorPrimitives.Dot(arow, new ReadOnlySpan<float>(b + (long)j * ldb, k));
                    ci[j] = accumulate ? ci[j] + dot : dot;
                }
            }
            else
            {
                var crow = new Span<float>(ci, n);
                if (!accumulate) crow.Clear();
                for (int p = 0; p < k; p++)
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(b + (long)p * ldb, n), ai[p], crow, crow);
            }
        }
    }
}
