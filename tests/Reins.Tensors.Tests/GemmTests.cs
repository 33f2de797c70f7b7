using Reins.Tensors.Kernels;

namespace Reins.Tensors.Tests;

/// <summary>The packed GEMM against a plain double-precision triple loop, on shapes that hit every edge path.</summary>
public unsafe class GemmTests
{
    private static float[] Random(int n, int seed)
    {
        var rng = new Rng((ulong)seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextFloat() * 2 - 1).ToArray();
    }

    private static float[] Run(bool ta, bool tb, int m, int n, int k, float[] a, int lda, float[] b, int ldb, float[] c, int ldc, bool acc, int threads, float[]? bias = null)
    {
        var result = (float[])c.Clone();
        fixed (float* pa = a, pb = b, pc = result, pbias = bias) Gemm.Multiply(ta, tb, m, n, k, pa, lda, pb, ldb, pc, ldc, acc, threads, pbias);
        return result;
    }

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 1, 33, 7 }, { 3, 70, 65 }, { 5, 7, 13 }, { 6, 32, 256 }, { 7, 31, 257 }, { 13, 97, 33 },
        { 65, 33, 300 }, { 100, 130, 520 }, { 97, 2100, 5 }, { 8, 70, 19 }, { 12, 64, 9 }, { 16, 45, 40 }, { 9, 1000, 1100 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesReferenceForAllTransposesLeadingDimensionsAndAccumulate(int m, int n, int k)
    {
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            // Leading dimensions larger than the logical extents, as when a kernel reads one head out of a wider row.
            int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
            var a = Random((ta ? k : m) * lda, 1);
            var b = Random((tb ? n : k) * ldb, 2);
            var c0 = Random(m * ldc, 3);
            var bias = Random(n, 4);
            foreach (bool acc in new[] { false, true })
            foreach (bool withBias in new[] { false, true })
            {
                var c = Run(ta, tb, m, n, k, a, lda, b, ldb, c0, ldc, acc, 1, withBias ? bias : null);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double s = (acc ? c0[i * ldc + j] : 0) + (withBias ? bias[j] : 0);
                        for (int p = 0; p < k; p++) s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                        Assert.True(Math.Abs(s - c[i * ldc + j]) <= 1e-5 * Math.Sqrt(k) + 1e-6, $"ta={ta} tb={tb} acc={acc} bias={withBias} C[{i},{j}] = {c[i * ldc + j]}, expected {s}");
                    }
                // Padding columns between n and ldc belong to someone else and must be untouched.
                for (int i = 0; i < m; i++)
                    for (int j = n; j < ldc; j++) Assert.Equal(c0[i * ldc + j], c[i * ldc + j]);
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FewRowProductsGiveEachRowTheSameBitsWhateverTheBatch(bool tb)
    {
        // Decoding a sequence alone or among others must give identical logits, so samples depend only on the seed.
        int n = 1100, k = 1000;
        var a = Random(13 * k, 9);
        var b = Random(n * k, 10);
        var all = Run(false, tb, 13, n, k, a, k, b, tb ? k : n, new float[13 * n], n, false, 2);
        for (int i = 0; i < 13; i += 3)
        {
            var alone = Run(false, tb, 1, n, k, a[(i * k)..((i + 1) * k)], k, b, tb ? k : n, new float[n], n, false, 1);
            Assert.Equal(all[(i * n)..((i + 1) * n)], alone);
        }
    }

    [Theory]
    [InlineData(4, 70, 19)]      // few rows: the unpacked path
    [InlineData(100, 130, 520)]  // packed, with edge tiles and two passes over k
    [InlineData(301, 517, 290)]  // split across threads
    public void BiasRoundsAsIfWrittenIntoCBeforeAccumulating(int m, int n, int k)
    {
        // Linear layers pass their bias to the GEMM instead of copying it into every row of C first; the two must
        // agree to the bit, so a checkpoint's outputs do not change with how the bias reaches the sum.
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true) })
        {
            var a = Random(m * k, 11);
            var b = Random(k * n, 12);
            var bias = Random(n, 13);
            var rows = new float[m * n];
            for (int i = 0; i < m; i++) bias.CopyTo(rows, i * n);
            var written = Run(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, rows, n, true, 2);
            var fused = Run(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, new float[m * n], n, false, 2, bias);
            Assert.Equal(written, fused);
        }
    }

    [Fact]
    public void ZeroInnerDimensionClearsOrKeepsC()
    {
        var c0 = Random(12, 4);
        Assert.All(Run(false, false, 3, 4, 0, [], 1, [], 4, c0, 4, false, 1), v => Assert.Equal(0f, v));
        Assert.Equal(c0, Run(false, false, 3, 4, 0, [], 1, [], 4, c0, 4, true, 1));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void ThreadCountDoesNotChangeABit(bool ta, bool tb)
    {
        // Large enough to be split across threads, with edge tiles in both directions.
        int m = 301, n = 517, k = 290;
        var a = Random(m * k, 5);
        var b = Random(k * n, 6);
        var c = new float[m * n];
        var one = Run(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, c, n, false, 1);
        Assert.Equal(one, Run(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, c, n, false, 2));
        var wide = Random(12 * 3000, 7);
        var bw = Random(3000 * 200, 8);
        var cw = new float[12 * 200];
        Assert.Equal(Run(false, false, 12, 200, 3000, wide, 3000, bw, 200, cw, 200, false, 1),
                     Run(false, false, 12, 200, 3000, wide, 3000, bw, 200, cw, 200, false, 2));
    }
}
