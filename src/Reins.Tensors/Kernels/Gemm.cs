using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Reins.Tensors.Kernels;

/// <summary>
/// Single-precision GEMM in the Goto/BLIS style: op(B) is packed into KC×NR panels and op(A) into MR×KC panels, so
/// one register-tiled micro-kernel (MR×NR = 6×32 with AVX-512: twelve accumulators) serves all four transpose cases.
/// Each element of C is summed by exactly one thread in the same k order, so results do not depend on the thread count.
/// </summary>
public static unsafe class Gemm
{
    private const int MR = 6, NR = 32;
    // KC·NR·4 B = 48 KB per micro-panel streams from L2; MC·KC·4 B = 144 KB of packed A stays in L2; KC·NC·4 B = 3 MB
    // of packed B stays in L3. KC = 384 covers a whole 384-wide inner dimension in one pass, so C is written once:
    // +4-5% on small's training against KC = 256 (BENCHMARKS.md).
    private const int KC = 384, MC = 96, NC = 2048;

    [ThreadStatic] private static float[]? packA, packB;

    /// <summary>
    /// C[m×n] = op(A)·op(B) + (accumulate ? C : 0) + bias. op(A) is m×k: A is stored row-major [m×k] with leading
    /// dimension lda, or, when transA, as [k×m]. op(B) is k×n: B stored [k×n] (ldb), or when transB [n×k]. C is [m×n]
    /// with leading dimension ldc. bias, when not null, is a row of n values added to every row of C, in the same
    /// rounding as writing it into C first and accumulating. threads: how many threads may be used (1 = the caller's
    /// thread only).
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int threads, float* bias = null) =>
        Multiply<float, Fp32Storage>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, threads, bias);

    /// <summary>
    /// <see cref="Multiply(bool, bool, int, int, int, float*, int, float*, int, float*, int, bool, int, float*)"/> with B
    /// stored as bfloat16 (frozen weights kept as bf16 only, or decoding's copies): widened to float32 as it is packed or
    /// read, so every sum is the float32 product of the rounded weights in the same order.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, ushort* b, int ldb, float* c, int ldc, bool accumulate, int threads, float* bias = null) =>
        Multiply<ushort, Bf16Storage>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, threads, bias);

    // The two above, generic over B's format (for kernels that are generic over it themselves).
    internal static void Multiply<TW, TF>(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, TW* b, int ldb, float* c, int ldc, bool accumulate, int threads, float* bias = null)
        where TW : unmanaged where TF : IStorageFormat<TW> =>
        Multiply<float, Fp32Storage, TW, TF>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, threads, bias);

    // Generic over A's format too: a backward pass reads activations packed as bf16 (Tensor.PackedPtr) as either
    // operand, widened as they are packed into panels, so every sum is the float32 product of the rounded values. A
    // bf16 A always takes the packed path (the skinny kernels read A as float32).
    internal static void Multiply<TA, TFA, TW, TF>(bool transA, bool transB, int m, int n, int k,
        TA* a, int lda, TW* b, int ldb, float* c, int ldc, bool accumulate, int threads, float* bias = null)
        where TA : unmanaged where TFA : IStorageFormat<TA> where TW : unmanaged where TF : IStorageFormat<TW>
    {
        if (m <= 0 || n <= 0) return;
        // Few rows: writing the bias first is cheap, and the paths below then only accumulate.
        if (bias != null && (k <= 0 || m <= 2 * SkinnyRows))
        {
            for (int i = 0; i < m; i++)
            {
                var row = new Span<float>(c + (long)i * ldc, n);
                if (accumulate) TensorPrimitives.Add(row, new ReadOnlySpan<float>(bias, n), row);
                else new ReadOnlySpan<float>(bias, n).CopyTo(row);
            }
            accumulate = true;
            bias = null;
        }
        if (k <= 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
            return;
        }
        // Thin products (decode steps, per-sequence heads) are bandwidth-bound: packing would only add traffic.
        if (m <= 2 * SkinnyRows && !transA && Vector512.IsHardwareAccelerated && typeof(TA) == typeof(float))
        {
            Skinny<TW, TF>(transB, m, n, k, (float*)a, lda, b, ldb, c, ldc, accumulate, threads);
            return;
        }
        long work = (long)m * n * k;
        int workers = work < 4_000_000 ? 1 : Math.Min(threads, 8);
        if (workers <= 1)
        {
            Blocked<TA, TFA, TW, TF>(transA, transB, 0, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate, bias);
            return;
        }
        // Split the larger output dimension into independent stripes, aligned to the register tile.
        bool splitN = n >= m;
        int extent = splitN ? n : m, align = splitN ? NR : MR;
        int per = (extent / workers + align - 1) / align * align;
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c, pbias = (nint)bias;
        Engine.For(workers, w =>
        {
            int s = Math.Min(extent, w * per), e = Math.Min(extent, s + per);
            if (w == workers - 1) e = extent;
            if (s >= e) return;
            if (splitN) Blocked<TA, TFA, TW, TF>(transA, transB, 0, m, s, e, k, (TA*)pa, lda, (TW*)pb, ldb, (float*)pc, ldc, accumulate, (float*)pbias);
            else Blocked<TA, TFA, TW, TF>(transA, transB, s, e, 0, n, k, (TA*)pa, lda, (TW*)pb, ldb, (float*)pc, ldc, accumulate, (float*)pbias);
        });
    }

    private static void Blocked<TA, TFA, TW, TF>(bool transA, bool transB, int m0, int m1, int n0, int n1, int k,
        TA* a, int lda, TW* b, int ldb, float* c, int ldc, bool accumulate, float* bias)
        where TA : unmanaged where TFA : IStorageFormat<TA> where TW : unmanaged where TF : IStorageFormat<TW>
    {
        packA ??= GC.AllocateUninitializedArray<float>(MC * KC + 8, pinned: true);
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
                float* biasRow = pc == 0 && bias != null ? bias + jc : null;
                PackB<TW, TF>(transB, b, ldb, pc, kc, jc, nc, pb);
                for (int ic = m0; ic < m1; ic += MC)
                {
                    int mc = Math.Min(MC, m1 - ic);
                    PackA<TA, TFA>(transA, a, lda, ic, mc, pc, kc, pa);
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mr = Math.Min(MR, mc - ir);
                            float* cTile = c + (long)(ic + ir) * ldc + jc + jr, biasTile = biasRow == null ? null : biasRow + jr;
                            if (mr == MR && nr == NR)
                                Kernel(kc, pa + ir * kc, pb + jr * kc, cTile, ldc, add, biasTile);
                            else
                            {
                                // Edge tile: compute the full tile into scratch, then merge only the valid part.
                                Kernel(kc, pa + ir * kc, pb + jr * kc, edge, NR, false, null);
                                for (int i = 0; i < mr; i++)
                                    for (int j = 0; j < nr; j++)
                                    {
                                        float v = add ? cTile[(long)i * ldc + j] + edge[i * NR + j] : edge[i * NR + j];
                                        cTile[(long)i * ldc + j] = biasTile == null ? v : v + biasTile[j];
                                    }
                            }
                        }
                    }
                }
            }
        }
    }

    // Packs op(B)[pc:pc+kc, jc:jc+nc] as consecutive kc×NR panels (row p of a panel = NR contiguous floats), zero-padded,
    // widening B to float32 as it goes.
    private static void PackB<TW, TF>(bool transB, TW* b, int ldb, int pc, int kc, int jc, int nc, float* dst)
        where TW : unmanaged where TF : IStorageFormat<TW>
    {
        for (int jr = 0; jr < nc; jr += NR)
        {
            int nr = Math.Min(NR, nc - jr);
            float* panel = dst + jr * kc;
            if (!transB)
            {
                for (int p = 0; p < kc; p++)
                {
                    TW* src = b + (long)(pc + p) * ldb + jc + jr;
                    float* d = panel + p * NR;
                    if (nr == NR)
                    {
                        Vector512.Store(TF.Load16(src), d);
                        Vector512.Store(TF.Load16(src + 16), d + 16);
                    }
                    else
                    {
                        for (int j = 0; j < nr; j++) d[j] = TF.Get(src + j);
                        for (int j = nr; j < NR; j++) d[j] = 0;
                    }
                }
            }
            else if (nr == NR && Avx.IsSupported)
            {
                // B is [n×k]: 8×8 blocks are transposed in registers, so both the reads and the writes are rows.
                int p = 0;
                for (; p + 8 <= kc; p += 8)
                    for (int j = 0; j < NR; j += 8)
                    {
                        TW* src = b + (long)(jc + jr + j) * ldb + pc + p;
                        Transpose8x8(TF.Load8(src), TF.Load8(src + ldb), TF.Load8(src + 2 * ldb), TF.Load8(src + 3 * ldb),
                            TF.Load8(src + 4 * ldb), TF.Load8(src + 5 * ldb), TF.Load8(src + 6 * ldb), TF.Load8(src + 7 * ldb), panel + p * NR + j, NR);
                    }
                for (; p < kc; p++)
                    for (int j = 0; j < NR; j++) panel[p * NR + j] = TF.Get(b + (long)(jc + jr + j) * ldb + pc + p);
            }
            else
            {
                for (int j = 0; j < nr; j++)
                {
                    TW* src = b + (long)(jc + jr + j) * ldb + pc;
                    for (int p = 0; p < kc; p++) panel[p * NR + j] = TF.Get(src + p);
                }
                for (int j = nr; j < NR; j++)
                    for (int p = 0; p < kc; p++) panel[p * NR + j] = 0;
            }
        }
    }

    // Stores column q of the rows r0…r7 at dst + q·ldDst, in ascending q (PackA relies on the order to overlap stores).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* dst, int ldDst)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Vector256.Store(Avx.Permute2x128(s0, s4, 0x20), dst);
        Vector256.Store(Avx.Permute2x128(s1, s5, 0x20), dst + ldDst);
        Vector256.Store(Avx.Permute2x128(s2, s6, 0x20), dst + 2 * ldDst);
        Vector256.Store(Avx.Permute2x128(s3, s7, 0x20), dst + 3 * ldDst);
        Vector256.Store(Avx.Permute2x128(s0, s4, 0x31), dst + 4 * ldDst);
        Vector256.Store(Avx.Permute2x128(s1, s5, 0x31), dst + 5 * ldDst);
        Vector256.Store(Avx.Permute2x128(s2, s6, 0x31), dst + 6 * ldDst);
        Vector256.Store(Avx.Permute2x128(s3, s7, 0x31), dst + 7 * ldDst);
    }

    // Packs op(A)[ic:ic+mc, pc:pc+kc] as consecutive MR×kc panels stored k-major (MR values per k), zero-padded,
    // widening A to float32 as it goes.
    private static void PackA<TA, TFA>(bool transA, TA* a, int lda, int ic, int mc, int pc, int kc, float* dst)
        where TA : unmanaged where TFA : IStorageFormat<TA>
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
                    TA* src = a + (long)(pc + p) * lda + ic + ir;
                    float* d = panel + p * MR;
                    if (mr == MR && typeof(TA) == typeof(float))
                    {
                        Vector128.Store(Vector128.Load((float*)src), d);
                        *(long*)(d + 4) = *(long*)((float*)src + 4);
                        continue;
                    }
                    if (mr == MR && ir + 8 <= mc)
                    {
                        // Two values past the panel's six are widened too and land in the next k's slot, which the
                        // next store overwrites (the buffer has room for the last spill).
                        Vector256.Store(TFA.Load8(src), d);
                        continue;
                    }
                    int i = 0;
                    for (; i < mr; i++) d[i] = TFA.Get(src + i);
                    for (; i < MR; i++) d[i] = 0;
                }
            }
            else if (mr == MR && Avx.IsSupported)
            {
                // Six rows and two zero rows transposed 8 k-values at a time; each 8-wide store spills two zeros into
                // the next k's slot, which the next store overwrites (the buffer has room for the last spill).
                TA* s0 = a + (long)(ic + ir) * lda + pc;
                int p = 0;
                for (; p + 8 <= kc; p += 8)
                    Transpose8x8(TFA.Load8(s0 + p), TFA.Load8(s0 + lda + p), TFA.Load8(s0 + 2 * lda + p),
                        TFA.Load8(s0 + 3 * lda + p), TFA.Load8(s0 + 4 * lda + p), TFA.Load8(s0 + 5 * lda + p),
                        Vector256<float>.Zero, Vector256<float>.Zero, panel + p * MR, MR);
                for (; p < kc; p++)
                    for (int i = 0; i < MR; i++) panel[p * MR + i] = TFA.Get(s0 + (long)i * lda + p);
            }
            else
            {
                for (int i = 0; i < mr; i++)
                {
                    TA* src = a + (long)(ic + ir + i) * lda + pc;
                    for (int p = 0; p < kc; p++) panel[p * MR + i] = TFA.Get(src + p);
                }
                for (int i = mr; i < MR; i++)
                    for (int p = 0; p < kc; p++) panel[p * MR + i] = 0;
            }
        }
    }

    // The 6×32 micro-kernel: twelve Vector512 accumulators, two B loads and six broadcasts per k step.
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(int kc, float* a, float* b, float* c, int ldc, bool add, float* bias)
    {
        if (!Vector512.IsHardwareAccelerated) { Kernel256(kc, a, b, c, ldc, add, bias); return; }
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
        if (bias != null)
        {
            var b0 = Vector512.Load(bias);
            var b1 = Vector512.Load(bias + 16);
            Store(c, c00, c01, add, b0, b1); Store(c + ldc, c10, c11, add, b0, b1); Store(c + 2 * ldc, c20, c21, add, b0, b1);
            Store(c + 3 * ldc, c30, c31, add, b0, b1); Store(c + 4 * ldc, c40, c41, add, b0, b1); Store(c + 5 * ldc, c50, c51, add, b0, b1);
            return;
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

    // The bias is added last, as when it was written into C before accumulating: (C + A·B) + bias.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> lo, Vector512<float> hi, bool add, Vector512<float> biasLo, Vector512<float> biasHi)
    {
        if (add) { lo += Vector512.Load(c); hi += Vector512.Load(c + 16); }
        Vector512.Store(lo + biasLo, c);
        Vector512.Store(hi + biasHi, c + 16);
    }

    // Fallback for CPUs without AVX-512: the same 6×32 tile as four Vector256 columns per row.
    private static void Kernel256(int kc, float* a, float* b, float* c, int ldc, bool add, float* bias)
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
                if (bias != null) v += Vector256.Load(bias + q * 8);
                Vector256.Store(v, dst);
            }
    }

    // Few rows (decode steps, per-sequence heads): bandwidth-bound, so B is streamed once, unpacked, with all m rows
    // of A held in cache; stripes of C's columns go to different threads. Each C element is summed in the same k
    // order whatever m and the thread count are, so a sequence's logits do not depend on what else is in the batch.
    private static void Skinny<TW, TF>(bool transB, int m, int n, int k, float* a, int lda, TW* b, int ldb, float* c, int ldc, bool accumulate, int threads)
        where TW : unmanaged where TF : IStorageFormat<TW>
    {
        int stripe = transB ? 8 : 32;
        // Splitting pays from 100 k weights (~20 µs of streaming) with the spinning worker pool, whose hand-off takes a
        // few µs: small's 384×384 projection went from ~0.3 to ~0.22 ms per decode step (BENCHMARKS.md).
        int workers = (long)n * k < 100_000 ? 1 : Math.Min(threads, 8);
        if (workers <= 1)
        {
            SkinnyColumns<TW, TF>(transB, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        int per = ((n + workers - 1) / workers + stripe - 1) / stripe * stripe;
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        Engine.For(workers, w =>
            SkinnyColumns<TW, TF>(transB, m, Math.Min(n, w * per), Math.Min(n, (w + 1) * per), k, (float*)pa, lda, (TW*)pb, ldb, (float*)pc, ldc, accumulate));
    }

    // Columns [j0, j1) of C for all m rows, in groups of at most SkinnyRows rows.
    private static void SkinnyColumns<TW, TF>(bool transB, int m, int j0, int j1, int k, float* a, int lda, TW* b, int ldb, float* c, int ldc, bool accumulate)
        where TW : unmanaged where TF : IStorageFormat<TW>
    {
        for (int i0 = 0; i0 < m; i0 += SkinnyRows)
        {
            int rows = Math.Min(SkinnyRows, m - i0);
            float* ai = a + (long)i0 * lda, ci = c + (long)i0 * ldc;
            if (transB) SkinnyDots<TW, TF>(rows, j0, j1, k, ai, lda, b, ldb, ci, ldc, accumulate);
            else SkinnyAxpy<TW, TF>(rows, j0, j1, k, ai, lda, b, ldb, ci, ldc, accumulate);
        }
    }

    private const int SkinnyRows = 8;

    // B is [n×k] (weights stored out×in): C[i,j] = ⟨A[i,:], B[j,:]⟩; each B row is read once from memory and reused
    // from L1 by every group of four rows of A.
    private static void SkinnyDots<TW, TF>(int m, int j0, int j1, int k, float* a, int lda, TW* b, int ldb, float* c, int ldc, bool accumulate)
        where TW : unmanaged where TF : IStorageFormat<TW>
    {
        // Eight rows take two weight rows at a time: each load of A's rows then feeds two products, which halves the loads
        // that bound Dot8 (nine per eight multiply-adds); every element is still Dot8's sum in Dot8's order.
        if (m == 8)
        {
            int j = j0;
            for (; j + 2 <= j1; j += 2) Dot8x2<TW, TF>(k, b + (long)j * ldb, ldb, a, lda, c + j, ldc, accumulate);
            if (j < j1) Dot8<TW, TF>(k, b + (long)j * ldb, a, lda, c + j, ldc, accumulate);
            return;
        }
        for (int j = j0; j < j1; j++)
        {
            TW* bj = b + (long)j * ldb;
            int i = 0;
            // Eight rows share each widened load of the weights (a bf16 row costs a conversion per sixteen weights).
            for (; i + 8 <= m; i += 8)
            {
                float* a0 = a + (long)i * lda;
                Dot8<TW, TF>(k, bj, a0, lda, c + (long)i * ldc + j, ldc, accumulate);
            }
            for (; i + 4 <= m; i += 4)
            {
                float* a0 = a + (long)i * lda;
                var (d0, d1, d2, d3) = Dot4<TW, TF>(k, bj, a0, a0 + lda, a0 + 2 * lda, a0 + 3 * lda);
                Put(c + (long)i * ldc + j, d0, accumulate);
                Put(c + (long)(i + 1) * ldc + j, d1, accumulate);
                Put(c + (long)(i + 2) * ldc + j, d2, accumulate);
                Put(c + (long)(i + 3) * ldc + j, d3, accumulate);
            }
            // The last three rows share one pass over the weights (a pointer repeated to fill four); the last one or two
            // take Dot2, which does half Dot4's work per weight (decoding one or two sequences is bound by it).
            if (m - i == 3)
            {
                float* a0 = a + (long)i * lda;
                var (d0, d1, d2, _) = Dot4<TW, TF>(k, bj, a0, a0 + lda, a0 + 2 * lda, a0);
                Put(c + (long)i * ldc + j, d0, accumulate);
                Put(c + (long)(i + 1) * ldc + j, d1, accumulate);
                Put(c + (long)(i + 2) * ldc + j, d2, accumulate);
            }
            else if (i < m)
            {
                float* a0 = a + (long)i * lda;
                var (d0, d1) = Dot2<TW, TF>(k, bj, a0, i + 1 < m ? a0 + lda : a0);
                Put(c + (long)i * ldc + j, d0, accumulate);
                if (i + 1 < m) Put(c + (long)(i + 1) * ldc + j, d1, accumulate);
            }
        }
    }

    private static void Put(float* c, float value, bool accumulate) => *c = accumulate ? *c + value : value;

    // Eight dot products against one row of B, each summed in Dot4's order, into C[0..8, 0] (ldc apart).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot8<TW, TF>(int k, TW* w, float* x, int lda, float* c, int ldc, bool accumulate) where TW : unmanaged where TF : IStorageFormat<TW>
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        float* x1 = x + lda, x2 = x + 2 * lda, x3 = x + 3 * lda, x4 = x + 4 * lda, x5 = x + 5 * lda, x6 = x + 6 * lda, x7 = x + 7 * lda;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var v = TF.Load16(w + p);
            s0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x + p), s0);
            s1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x1 + p), s1);
            s2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x2 + p), s2);
            s3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x3 + p), s3);
            s4 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x4 + p), s4);
            s5 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x5 + p), s5);
            s6 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x6 + p), s6);
            s7 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x7 + p), s7);
        }
        Finish<TW, TF>(k, p, w, x, lda, c, ldc, accumulate, s0, s1, s2, s3, s4, s5, s6, s7);
    }

    // Dot8 against two consecutive rows of B (ldb apart) into C[0..8, 0..2], each column summed exactly as Dot8 sums it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot8x2<TW, TF>(int k, TW* w, int ldb, float* x, int lda, float* c, int ldc, bool accumulate) where TW : unmanaged where TF : IStorageFormat<TW>
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default, t4 = default, t5 = default, t6 = default, t7 = default;
        float* x1 = x + lda, x2 = x + 2 * lda, x3 = x + 3 * lda, x4 = x + 4 * lda, x5 = x + 5 * lda, x6 = x + 6 * lda, x7 = x + 7 * lda;
        TW* u = w + ldb;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            Vector512<float> v = TF.Load16(w + p), e = TF.Load16(u + p), r;
            r = Vector512.Load(x + p); s0 = Vector512.FusedMultiplyAdd(v, r, s0); t0 = Vector512.FusedMultiplyAdd(e, r, t0);
            r = Vector512.Load(x1 + p); s1 = Vector512.FusedMultiplyAdd(v, r, s1); t1 = Vector512.FusedMultiplyAdd(e, r, t1);
            r = Vector512.Load(x2 + p); s2 = Vector512.FusedMultiplyAdd(v, r, s2); t2 = Vector512.FusedMultiplyAdd(e, r, t2);
            r = Vector512.Load(x3 + p); s3 = Vector512.FusedMultiplyAdd(v, r, s3); t3 = Vector512.FusedMultiplyAdd(e, r, t3);
            r = Vector512.Load(x4 + p); s4 = Vector512.FusedMultiplyAdd(v, r, s4); t4 = Vector512.FusedMultiplyAdd(e, r, t4);
            r = Vector512.Load(x5 + p); s5 = Vector512.FusedMultiplyAdd(v, r, s5); t5 = Vector512.FusedMultiplyAdd(e, r, t5);
            r = Vector512.Load(x6 + p); s6 = Vector512.FusedMultiplyAdd(v, r, s6); t6 = Vector512.FusedMultiplyAdd(e, r, t6);
            r = Vector512.Load(x7 + p); s7 = Vector512.FusedMultiplyAdd(v, r, s7); t7 = Vector512.FusedMultiplyAdd(e, r, t7);
        }
        Finish<TW, TF>(k, p, w, x, lda, c, ldc, accumulate, s0, s1, s2, s3, s4, s5, s6, s7);
        Finish<TW, TF>(k, p, u, x, lda, c + 1, ldc, accumulate, t0, t1, t2, t3, t4, t5, t6, t7);
    }

    // Dot8's ending: the sixteen-lane sums, the scalar tail from p on, and the stores.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<TW, TF>(int k, int p, TW* w, float* x, int lda, float* c, int ldc, bool accumulate,
        Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3, Vector512<float> s4, Vector512<float> s5, Vector512<float> s6, Vector512<float> s7)
        where TW : unmanaged where TF : IStorageFormat<TW>
    {
        float* x1 = x + lda, x2 = x + 2 * lda, x3 = x + 3 * lda, x4 = x + 4 * lda, x5 = x + 5 * lda, x6 = x + 6 * lda, x7 = x + 7 * lda;
        float d0 = Vector512.Sum(s0), d1 = Vector512.Sum(s1), d2 = Vector512.Sum(s2), d3 = Vector512.Sum(s3);
        float d4 = Vector512.Sum(s4), d5 = Vector512.Sum(s5), d6 = Vector512.Sum(s6), d7 = Vector512.Sum(s7);
        for (; p < k; p++)
        {
            float wp = TF.Get(w + p);
            d0 += wp * x[p]; d1 += wp * x1[p]; d2 += wp * x2[p]; d3 += wp * x3[p]; d4 += wp * x4[p]; d5 += wp * x5[p]; d6 += wp * x6[p]; d7 += wp * x7[p];
        }
        Put(c, d0, accumulate); Put(c + ldc, d1, accumulate); Put(c + 2 * ldc, d2, accumulate); Put(c + 3 * ldc, d3, accumulate);
        Put(c + 4 * ldc, d4, accumulate); Put(c + 5 * ldc, d5, accumulate); Put(c + 6 * ldc, d6, accumulate); Put(c + 7 * ldc, d7, accumulate);
    }

    // Four dot products against one row of B. Each row has its own accumulator, summed across lanes and then the
    // scalar tail, so Dot2, Dot8 and Dot8x2 sum every C element in this same order, whatever the batch size.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float, float, float, float) Dot4<TW, TF>(int k, TW* w, float* x0, float* x1, float* x2, float* x3) where TW : unmanaged where TF : IStorageFormat<TW>
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var v = TF.Load16(w + p);
            s0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x0 + p), s0);
            s1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x1 + p), s1);
            s2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x2 + p), s2);
            s3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x3 + p), s3);
        }
        float d0 = Vector512.Sum(s0), d1 = Vector512.Sum(s1), d2 = Vector512.Sum(s2), d3 = Vector512.Sum(s3);
        for (; p < k; p++) { float wp = TF.Get(w + p); d0 += wp * x0[p]; d1 += wp * x1[p]; d2 += wp * x2[p]; d3 += wp * x3[p]; }
        return (d0, d1, d2, d3);
    }

    // Dot4 for two rows (or one, its pointer repeated).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float, float) Dot2<TW, TF>(int k, TW* w, float* x0, float* x1) where TW : unmanaged where TF : IStorageFormat<TW>
    {
        Vector512<float> s0 = default, s1 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var v = TF.Load16(w + p);
            s0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x0 + p), s0);
            s1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x1 + p), s1);
        }
        float d0 = Vector512.Sum(s0), d1 = Vector512.Sum(s1);
        for (; p < k; p++) { float wp = TF.Get(w + p); d0 += wp * x0[p]; d1 += wp * x1[p]; }
        return (d0, d1);
    }

    // B is [k×n]: C[i, j:j+32] = Σ_p A[i,p]·B[p, j:j+32] accumulated in registers for 8, 4 or 1 rows of A, reading
    // B straight from its rows. Blocks of 8 rows of B are swept across all columns before moving down, so memory sees
    // 8 sequential streams (a 32-column panel down all k rows would touch a new page per row). Every element is
    // the same chain of fused multiply-adds over p whichever tile computes it, so a row's result does not depend on
    // how many rows share the call.
    private static void SkinnyAxpy<TW, TF>(int m, int j0, int j1, int k, float* a, int lda, TW* b, int ldb, float* c, int ldc, bool accumulate)
        where TW : unmanaged where TF : IStorageFormat<TW>
    {
        const int KB = 8;
        int jv = j0 + (j1 - j0) / 32 * 32;
        for (int p0 = 0; p0 < k; p0 += KB)
        {
            int kb = Math.Min(KB, k - p0);
            bool load = accumulate || p0 > 0;
            float* ap = a + p0;
            TW* bp = b + (long)p0 * ldb;
            for (int j = j0; j < jv; j += 32)
            {
                // The next block's rows of this panel are far apart in memory; requesting them now overlaps their
                // DRAM latency with this block's arithmetic.
                if (Sse.IsSupported && p0 + KB < k)
                    for (int p = 0; p < Math.Min(KB, k - p0 - KB); p++) { Sse.Prefetch0(bp + (long)(KB + p) * ldb + j); Sse.Prefetch0(bp + (long)(KB + p) * ldb + j + 16); }
                int i = 0;
                for (; i + 8 <= m; i += 8) Tile8<TW, TF>(kb, ap + (long)i * lda, lda, bp + j, ldb, c + (long)i * ldc + j, ldc, load);
                for (; i + 4 <= m; i += 4) Tile4<TW, TF>(kb, ap + (long)i * lda, lda, bp + j, ldb, c + (long)i * ldc + j, ldc, load);
                for (; i < m; i++) Tile1<TW, TF>(kb, ap + (long)i * lda, bp + j, ldb, c + (long)i * ldc + j, load);
            }
        }
        for (int i = 0; i < m && jv < j1; i++)
        {
            float* ai = a + (long)i * lda, ci = c + (long)i * ldc;
            for (int jj = jv; jj < j1; jj++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++) sum = MathF.FusedMultiplyAdd(ai[p], TF.Get(b + (long)p * ldb + jj), sum);
                ci[jj] = accumulate ? ci[jj] + sum : sum;
            }
        }
    }

    private static Vector512<float> Start(float* c, bool load) => load ? Vector512.Load(c) : Vector512<float>.Zero;

    private static void Tile8<TW, TF>(int k, float* a, int lda, TW* b, int ldb, float* c, int ldc, bool load) where TW : unmanaged where TF : IStorageFormat<TW>
    {
        Vector512<float> l0 = Start(c, load), h0 = Start(c + 16, load), l1 = Start(c + ldc, load), h1 = Start(c + ldc + 16, load);
        Vector512<float> l2 = Start(c + 2 * ldc, load), h2 = Start(c + 2 * ldc + 16, load), l3 = Start(c + 3 * ldc, load), h3 = Start(c + 3 * ldc + 16, load);
        Vector512<float> l4 = Start(c + 4 * ldc, load), h4 = Start(c + 4 * ldc + 16, load), l5 = Start(c + 5 * ldc, load), h5 = Start(c + 5 * ldc + 16, load);
        Vector512<float> l6 = Start(c + 6 * ldc, load), h6 = Start(c + 6 * ldc + 16, load), l7 = Start(c + 7 * ldc, load), h7 = Start(c + 7 * ldc + 16, load);
        for (int p = 0; p < k; p++)
        {
            TW* bp = b + (long)p * ldb;
            float* ap = a + p;
            var w0 = TF.Load16(bp);
            var w1 = TF.Load16(bp + 16);
            var x = Vector512.Create(ap[0]); l0 = Vector512.FusedMultiplyAdd(x, w0, l0); h0 = Vector512.FusedMultiplyAdd(x, w1, h0);
            x = Vector512.Create(ap[lda]); l1 = Vector512.FusedMultiplyAdd(x, w0, l1); h1 = Vector512.FusedMultiplyAdd(x, w1, h1);
            x = Vector512.Create(ap[2 * lda]); l2 = Vector512.FusedMultiplyAdd(x, w0, l2); h2 = Vector512.FusedMultiplyAdd(x, w1, h2);
            x = Vector512.Create(ap[3 * lda]); l3 = Vector512.FusedMultiplyAdd(x, w0, l3); h3 = Vector512.FusedMultiplyAdd(x, w1, h3);
            x = Vector512.Create(ap[4 * lda]); l4 = Vector512.FusedMultiplyAdd(x, w0, l4); h4 = Vector512.FusedMultiplyAdd(x, w1, h4);
            x = Vector512.Create(ap[5 * lda]); l5 = Vector512.FusedMultiplyAdd(x, w0, l5); h5 = Vector512.FusedMultiplyAdd(x, w1, h5);
            x = Vector512.Create(ap[6 * lda]); l6 = Vector512.FusedMultiplyAdd(x, w0, l6); h6 = Vector512.FusedMultiplyAdd(x, w1, h6);
            x = Vector512.Create(ap[7 * lda]); l7 = Vector512.FusedMultiplyAdd(x, w0, l7); h7 = Vector512.FusedMultiplyAdd(x, w1, h7);
        }
        Store(c, l0, h0, false); Store(c + ldc, l1, h1, false); Store(c + 2 * ldc, l2, h2, false); Store(c + 3 * ldc, l3, h3, false);
        Store(c + 4 * ldc, l4, h4, false); Store(c + 5 * ldc, l5, h5, false); Store(c + 6 * ldc, l6, h6, false); Store(c + 7 * ldc, l7, h7, false);
    }

    private static void Tile4<TW, TF>(int k, float* a, int lda, TW* b, int ldb, float* c, int ldc, bool load) where TW : unmanaged where TF : IStorageFormat<TW>
    {
        Vector512<float> l0 = Start(c, load), h0 = Start(c + 16, load), l1 = Start(c + ldc, load), h1 = Start(c + ldc + 16, load);
        Vector512<float> l2 = Start(c + 2 * ldc, load), h2 = Start(c + 2 * ldc + 16, load), l3 = Start(c + 3 * ldc, load), h3 = Start(c + 3 * ldc + 16, load);
        for (int p = 0; p < k; p++)
        {
            TW* bp = b + (long)p * ldb;
            float* ap = a + p;
            var w0 = TF.Load16(bp);
            var w1 = TF.Load16(bp + 16);
            var x = Vector512.Create(ap[0]); l0 = Vector512.FusedMultiplyAdd(x, w0, l0); h0 = Vector512.FusedMultiplyAdd(x, w1, h0);
            x = Vector512.Create(ap[lda]); l1 = Vector512.FusedMultiplyAdd(x, w0, l1); h1 = Vector512.FusedMultiplyAdd(x, w1, h1);
            x = Vector512.Create(ap[2 * lda]); l2 = Vector512.FusedMultiplyAdd(x, w0, l2); h2 = Vector512.FusedMultiplyAdd(x, w1, h2);
            x = Vector512.Create(ap[3 * lda]); l3 = Vector512.FusedMultiplyAdd(x, w0, l3); h3 = Vector512.FusedMultiplyAdd(x, w1, h3);
        }
        Store(c, l0, h0, false); Store(c + ldc, l1, h1, false); Store(c + 2 * ldc, l2, h2, false); Store(c + 3 * ldc, l3, h3, false);
    }

    private static void Tile1<TW, TF>(int k, float* a, TW* b, int ldb, float* c, bool load) where TW : unmanaged where TF : IStorageFormat<TW>
    {
        Vector512<float> l0 = Start(c, load), h0 = Start(c + 16, load);
        for (int p = 0; p < k; p++)
        {
            TW* bp = b + (long)p * ldb;
            var x = Vector512.Create(a[p]);
            l0 = Vector512.FusedMultiplyAdd(x, TF.Load16(bp), l0);
            h0 = Vector512.FusedMultiplyAdd(x, TF.Load16(bp + 16), h0);
        }
        Store(c, l0, h0, false);
    }

}
