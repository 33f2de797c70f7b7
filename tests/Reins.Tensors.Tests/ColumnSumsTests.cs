using Reins.Tensors.Kernels;

namespace Reins.Tensors.Tests;

/// <summary>The per-column parameter gradients (a bias, a norm's weight and bias) against a plain row-order loop.</summary>
public unsafe class ColumnSumsTests
{
    // Column ranges that hit the vector body alone, the scalar tail alone, both, and a range that starts inside the row.
    [Theory]
    [InlineData(70, 400, 0, 400)]
    [InlineData(70, 400, 48, 37)]
    [InlineData(5, 9, 0, 9)]
    [InlineData(1, 16, 0, 16)]
    public void EachColumnIsSummedInRowOrderBitForBit(int rows, int ld, int c0, int width)
    {
        var rng = new Rng(3);
        float[] Random(int n, float scale) => Enumerable.Range(0, n).Select(_ => (rng.NextFloat() * 2 - 1) * scale).ToArray();
        var g = Random(rows * ld, 1);
        var x = Random(rows * ld, 3);
        var shift = Random(rows, 0.5f);
        var scale = Random(rows, 2);
        var startW = Random(ld, 1);
        var startB = Random(ld, 1);
        var packed = new ushort[x.Length];
        Bf16.FromFloat(x, packed);
        var rounded = packed.Select(Bf16.ToFloat).ToArray();

        foreach (bool bf16 in new[] { false, true })
            foreach (var (withWeight, withBias) in new[] { (true, true), (true, false), (false, true) })
            {
                var xs = bf16 ? rounded : x;
                float[] expectedW = (float[])startW.Clone(), expectedB = (float[])startB.Clone();
                for (int c = c0; c < c0 + width; c++)
                    for (int r = 0; r < rows; r++)
                    {
                        float gy = g[r * ld + c];
                        expectedW[c] = gy * ((xs[r * ld + c] - shift[r]) * scale[r]) + expectedW[c];
                        expectedB[c] += gy;
                    }
                float[] w = (float[])startW.Clone(), b = (float[])startB.Clone();
                fixed (float* pg = g, px = x, ps = shift, pc = scale, pw = w, pb = b)
                fixed (ushort* ph = packed)
                {
                    float* wp = withWeight ? pw : null, bp = withBias ? pb : null;
                    if (bf16) ColumnSums.AddNormalized<ushort, Bf16Storage>(pg, ph, ps, pc, rows, ld, c0, width, wp, bp);
                    else ColumnSums.AddNormalized<float, Fp32Storage>(pg, px, ps, pc, rows, ld, c0, width, wp, bp);
                }
                // Outside the range nothing moves; inside, every column is the row-order sum, to the bit.
                Assert.Equal(withWeight ? expectedW : startW, w);
                Assert.Equal(withBias ? expectedB : startB, b);
            }

        var sums = (float[])startB.Clone();
        fixed (float* pg = g, ps = sums) ColumnSums.Add(pg, rows, ld, c0, width, ps);
        var expected = (float[])startB.Clone();
        for (int c = c0; c < c0 + width; c++)
            for (int r = 0; r < rows; r++) expected[c] += g[r * ld + c];
        Assert.Equal(expected, sums);
    }

    [Fact]
    public void NormAndBiasGradientsGiveTheSameBitsOnAnyThreadCount()
    {
        // 384 columns are split into eight pieces of 48 between the threads.
        float[][] Run(int threads)
        {
            int saved = Engine.Threads;
            Engine.Threads = threads;
            try
            {
                var x = Tensor.Uniform(new Rng(8), -2, 2, 300, 384);
                var w = Tensor.Uniform(new Rng(9), -1, 1, 384, 384);
                var bias = Tensor.Uniform(new Rng(10), -1, 1, 384);
                var gain = Tensor.Uniform(new Rng(11), 0.5f, 1.5f, 384);
                var shift = Tensor.Uniform(new Rng(12), -1, 1, 384);
                foreach (var t in new[] { x, w, bias, gain, shift }) t.RequiresGrad = true;
                using var tape = new Tape();
                var h = Ops.LayerNorm(Ops.Linear(x, w, bias, Ops.WeightLayout.OutIn), gain, shift, 1e-5f);
                tape.Backward(Ops.Sum(h * h * x));
                return [bias.Grad!.ToArray(), gain.Grad!.ToArray(), shift.Grad!.ToArray(), x.Grad!.ToArray()];
            }
            finally { Engine.Threads = saved; }
        }
        var (one, two) = (Run(1), Run(2));
        for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], two[i]);
    }
}
