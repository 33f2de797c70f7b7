using Reins.Tensors.Kernels;

namespace Reins.Tensors.Tests;

/// <summary>Linear layers reading a bfloat16 copy of their weights: exact widening, float32 sums, torch's rounding.</summary>
public sealed class Bf16Tests
{
    [Fact]
    public void RoundingIsTorchsNearestEven()
    {
        // 1 + 2⁻⁸ lies halfway between two bf16 values: it rounds to the even one (1); just above it rounds up.
        Assert.Equal(1f, Bf16.ToFloat(Bf16.FromFloat(1f + 1f / 256)));
        Assert.Equal(1f + 1f / 128, Bf16.ToFloat(Bf16.FromFloat(1f + 1f / 256 + 1f / 65536)));
        Assert.Equal(-2.5f, Bf16.ToFloat(Bf16.FromFloat(-2.5f)));
        Assert.True(float.IsNaN(Bf16.ToFloat(Bf16.FromFloat(float.NaN))));
        Assert.Equal(float.PositiveInfinity, Bf16.ToFloat(Bf16.FromFloat(float.PositiveInfinity)));
    }

    [Theory]
    [InlineData(Ops.WeightLayout.OutIn, 1, 70, 37, true)]
    [InlineData(Ops.WeightLayout.OutIn, 9, 130, 200, false)]
    [InlineData(Ops.WeightLayout.InOut, 1, 70, 37, false)]
    [InlineData(Ops.WeightLayout.InOut, 6, 200, 129, true)]
    [InlineData(Ops.WeightLayout.InOut, 3, 64, 64, true)]
    [InlineData(Ops.WeightLayout.InOut, 2, 70, 37, false, true)]
    [InlineData(Ops.WeightLayout.InOut, 6, 200, 129, true, true)]
    public void ALinearLayerOnItsBf16CopyComputesWithTheRoundedWeightsInFloat32(Ops.WeightLayout layout, int rows, int inputs, int outputs, bool withBias, bool transposed = false)
    {
        var rng = new Rng(5);
        var x = Tensor.Normal(rng, 0, 1, rows, inputs);
        var weight = Tensor.Normal(rng, 0, 0.2f, layout == Ops.WeightLayout.OutIn ? [outputs, inputs] : [inputs, outputs]);
        var bias = withBias ? Tensor.Normal(rng, 0, 1, outputs) : null;
        // The float32 layer on weights rounded to bf16, summed in double: what the bf16 layer must give, up to float32 sums.
        var rounded = weight.Span.ToArray().Select(v => (double)Bf16.ToFloat(Bf16.FromFloat(v))).ToArray();
        var expected = new double[rows * outputs];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outputs; o++)
            {
                double sum = bias is null ? 0 : bias.Span[o];
                for (int i = 0; i < inputs; i++)
                    sum += x.Span[r * inputs + i] * rounded[layout == Ops.WeightLayout.OutIn ? o * inputs + i : i * outputs + o];
                expected[r * outputs + o] = sum;
            }
        var full = Ops.Linear(x, weight, bias, layout).Span.ToArray();
        weight.KeepBf16Copy(transposed);
        var half = Ops.Linear(x, weight, bias, layout).Span.ToArray();
        for (int j = 0; j < expected.Length; j++) Assert.True(Math.Abs(half[j] - expected[j]) <= 1e-4 * (1 + Math.Abs(expected[j])), $"output {j}: {half[j]} against {expected[j]}");
        // And it is not the float32 layer: bf16 rounding moves the outputs (by about 2⁻⁹ of the weights' size).
        Assert.Contains(Enumerable.Range(0, full.Length), j => Math.Abs(full[j] - half[j]) > 1e-5);
        // Training records gradients, so it reads the float32 weights.
        using var tape = new Tape();
        weight.RequiresGrad = true;
        Assert.Equal(full, Ops.Linear(x, weight, bias, layout).Span.ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AttentionOverABf16CacheIsAttentionOverTheRoundedValues(int queries)
    {
        // Widening bf16 is exact, so a bf16 cache must give what a float32 cache of the rounded values gives, bit for bit.
        int batch = 2, heads = 4, kvHeads = 2, d = 20, capacity = 9, keyLength = 7;
        var rng = new Rng(3);
        var q = Tensor.Normal(rng, 0, 1, batch, queries, heads * d);
        var keys = Tensor.Normal(rng, 0, 1, batch, kvHeads, capacity, d);
        var values = Tensor.Normal(rng, 0, 1, batch, kvHeads, capacity, d);
        float[] mask = [.. Enumerable.Range(0, batch * capacity).Select(i => i == capacity ? 0f : 1f)];
        ushort[] Half(Tensor t) => [.. t.Span.ToArray().Select(Bf16.FromFloat)];
        Tensor Rounded(Tensor t) => Tensor.FromArray(t.Span.ToArray().Select(v => Bf16.ToFloat(Bf16.FromFloat(v))).ToArray(), t.Shape);
        using var _ = Tape.NoGrad();
        var expected = Ops.CachedAttention(q, Rounded(keys), Rounded(values), keyLength, heads, kvHeads, mask).Span.ToArray();
        Assert.Equal(expected, Ops.CachedAttention(q, Half(keys), Half(values), capacity, keyLength, heads, kvHeads, mask).Span.ToArray());
        Assert.NotEqual(Ops.CachedAttention(q, keys, values, keyLength, heads, kvHeads, mask).Span.ToArray(), expected);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ARowsOutputDoesNotDependOnTheRowsBesideIt(bool bf16)
    {
        // Decoding runs a few rows at a time (8, 4 and 1–3 share a pass over the weights); each row's sums must run in one
        // order whatever the others.
        var rng = new Rng(8);
        var x = Tensor.Normal(rng, 0, 1, 11, 96);
        var weight = Tensor.Normal(rng, 0, 0.2f, 50, 96);
        if (bf16) weight.KeepBf16Copy();
        var all = Ops.Linear(x, weight, null, Ops.WeightLayout.OutIn).Span.ToArray();
        for (int rows = 1; rows <= 11; rows++)
        {
            var some = Ops.Linear(Ops.Narrow0(x, 0, rows), weight, null, Ops.WeightLayout.OutIn).Span.ToArray();
            Assert.Equal(all.AsSpan(0, rows * 50).ToArray(), some);
        }
    }

    [Fact]
    public void SpanConversionsMatchTheScalarOnesOnEveryKindOfValue()
    {
        var rng = new Rng(9);
        // Ties both ways, NaN payloads, infinities, signed zeros, denormals, the largest float (rounds to infinity), and a
        // length that leaves a scalar tail after the 32-wide loop.
        float[] special = [1f + 1f / 256, 1f + 3f / 256, -(1f + 1f / 256), float.NaN, BitConverter.UInt32BitsToSingle(0x7F800001),
            BitConverter.UInt32BitsToSingle(0xFFFFFFFF), float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.Epsilon, 1e-40f, float.MaxValue];
        var values = special.Concat(Enumerable.Range(0, 1000).Select(_ => rng.NextNormal() * 100)).ToArray();
        var half = new ushort[values.Length];
        Bf16.FromFloat(values, half);
        Assert.Equal(values.Select(Bf16.FromFloat), half);
        var back = new float[values.Length];
        Bf16.ToFloat(half, back);
        Assert.Equal(half.Select(h => BitConverter.SingleToUInt32Bits(Bf16.ToFloat(h))), back.Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public void SavedActivationsAreReadRoundedToBf16InTheBackwardPassOnly()
    {
        // h = 3x is made inside the block and read by the backward of h·h (through a view), so the gradient is
        // exactly 3·2·round(h) while the forward output is float32's (3x)².
        const int n = 8192;
        var x = Tensor.Parameter("x", Tensor.Normal(new Rng(4), 0, 1, n));
        Tensor? inside = null;
        using var tape = new Tape();
        var y = Ops.Bf16SavedActivations(input =>
        {
            inside = input * 3f;
            var pairs = Ops.Reshape(inside, n / 2, 2);
            return Ops.Reshape(pairs * pairs, n);
        }, x);
        var xs = x.Span.ToArray();
        Assert.Equal(xs.Select(v => (v * 3f) * (v * 3f)), y.Span.ToArray());
        tape.Backward(Ops.Sum(y));
        var expected = xs.Select(v => 2f * Bf16.ToFloat(Bf16.FromFloat(v * 3f)) * 3f).ToArray();
        Assert.Equal(expected, x.Grad!.Span.ToArray());
        Assert.NotEqual(xs.Select(v => 2f * (v * 3f) * 3f), expected);
        // Once the block's backward steps have run, its storage is back in the pool: a late read fails loudly.
        Assert.Throws<ObjectDisposedException>(() => inside!.Span[0]);
    }

    [Fact]
    public void SavedActivationsBelowThePackingSizeOrOutsideATapeStayFloat32()
    {
        var small = Tensor.Parameter("small", Tensor.Normal(new Rng(5), 0, 1, Tensor.MinPackedSize - 1));
        using (var tape = new Tape())
        {
            var y = Ops.Bf16SavedActivations(input => (input * 3f) * (input * 3f), small);
            tape.Backward(Ops.Sum(y));
            Assert.Equal(small.Span.ToArray().Select(v => 2f * (v * 3f) * 3f), small.Grad!.Span.ToArray());
        }
        Tensor? inside = null;
        var outside = Ops.Bf16SavedActivations(input => (inside = input * 3f) * 1f, Tensor.Normal(new Rng(6), 0, 1, 2 * Tensor.MinPackedSize));
        Assert.Equal(outside.Span.ToArray(), inside!.Span.ToArray());
    }

    [Theory]
    [InlineData(false, 5, 70, 37)]
    [InlineData(true, 5, 70, 37)]
    [InlineData(false, 40, 130, 200)]
    [InlineData(true, 40, 130, 200)]
    [InlineData(false, 203, 97, 450)]
    [InlineData(true, 203, 97, 450)]
    public unsafe void AGemmOnBf16BIsTheFloat32GemmOnTheRoundedValues(bool transB, int m, int n, int k)
    {
        // Few rows take the skinny kernels, many the packed GEMM, which widens B while packing it: either way the sums
        // are float32's on the rounded values, in the same order, so the results are bit-identical.
        var rng = new Rng(11);
        var a = Enumerable.Range(0, m * k).Select(_ => rng.NextNormal()).ToArray();
        var half = Enumerable.Range(0, n * k).Select(_ => Bf16.FromFloat(rng.NextNormal())).ToArray();
        var rounded = half.Select(Bf16.ToFloat).ToArray();
        var bias = Enumerable.Range(0, n).Select(_ => rng.NextNormal()).ToArray();
        var start = Enumerable.Range(0, m * n).Select(_ => rng.NextNormal()).ToArray();
        foreach (bool accumulate in new[] { false, true })
        {
            float[] viaHalf = (float[])start.Clone(), viaFloat = (float[])start.Clone();
            fixed (float* pa = a, pr = rounded, pbias = bias, c1 = viaHalf, c2 = viaFloat)
            fixed (ushort* ph = half)
            {
                int ldb = transB ? k : n;
                Gemm.Multiply(false, transB, m, n, k, pa, k, ph, ldb, c1, n, accumulate, 2, pbias);
                Gemm.Multiply(false, transB, m, n, k, pa, k, pr, ldb, c2, n, accumulate, 2, pbias);
            }
            Assert.Equal(viaFloat, viaHalf);
        }
    }

    [Theory]
    [InlineData(Ops.WeightLayout.OutIn, false)]
    [InlineData(Ops.WeightLayout.InOut, false)]
    [InlineData(Ops.WeightLayout.InOut, true)]
    public void AFrozenWeightHeldAsBf16OnlyPassesGradientsAsTheRoundedFloat32Weight(Ops.WeightLayout layout, bool transposed)
    {
        // 40 rows: the packed GEMM, whose panels hold the same floats whichever way the weight is stored, so the output and
        // the input's gradient are bit-identical to float32's on the rounded weight.
        const int rows = 40, inputs = 70, outputs = 37;
        var rng = new Rng(12);
        var xValues = Tensor.Normal(rng, 0, 1, rows, inputs).Span.ToArray();
        var weight = Tensor.Normal(rng, 0, 0.2f, layout == Ops.WeightLayout.OutIn ? [outputs, inputs] : [inputs, outputs]);
        weight.Name = "w";
        var bias = Tensor.Normal(rng, 0, 1, outputs);
        var upstream = Tensor.Normal(rng, 0, 1, rows, outputs);
        var rounded = Tensor.FromArray(weight.Span.ToArray().Select(v => Bf16.ToFloat(Bf16.FromFloat(v))).ToArray(), weight.Shape);
        (float[] Y, float[] Dx) Run(Tensor w)
        {
            var x = Tensor.Parameter("x", Tensor.FromArray(xValues, rows, inputs));
            using var tape = new Tape();
            var y = Ops.Linear(x, w, bias, layout);
            tape.Backward(Ops.Sum(y * upstream));
            return (y.Span.ToArray(), x.Grad!.Span.ToArray());
        }
        var (expected, unrounded) = (Run(rounded), Run(weight));
        weight.StoreAsBf16Only(transposed);
        var actual = Run(weight);
        Assert.NotEqual(unrounded.Y, actual.Y);
        Assert.Equal(expected.Y, actual.Y);
        Assert.Equal(expected.Dx, actual.Dx);
        Assert.Null(weight.Grad);
        Assert.Contains("w is stored as bfloat16 only", Assert.Throws<InvalidOperationException>(() => weight.Span.ToArray()).Message);
        Assert.Throws<InvalidOperationException>(() => Tensor.Parameter("trained", rounded).StoreAsBf16Only());
    }

    [Fact]
    public void ADropoutMaskInsideABlockStaysExact()
    {
        // 1/(1 − 0.05) is not a bf16 value: the mask the backward reads must be the float32 one, or every gradient through
        // dropout would be scaled by the rounding.
        const int n = 8192;
        var x = Tensor.Parameter("x", Tensor.Normal(new Rng(13), 0, 1, n));
        Tensor? dropped = null;
        using var tape = new Tape();
        var y = Ops.Bf16SavedActivations(input => (dropped = Ops.Dropout(input, 0.05f, new Rng(14))) * 1f, x);
        tape.Backward(Ops.Sum(y));
        float scale = 1 / (1 - 0.05f);
        Assert.NotEqual(scale, Bf16.ToFloat(Bf16.FromFloat(scale)));
        Assert.All(x.Grad!.Span.ToArray(), g => Assert.True(g == 0 || g == scale, $"gradient {g}"));
        Assert.Contains(scale, x.Grad!.Span.ToArray());
    }
}
