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
    [InlineData("float32", 96)]
    [InlineData("bf16", 96)]
    [InlineData("float32", 100)]
    [InlineData("bf16", 100)]
    [InlineData("int8", 100)]
    public void ARowsOutputDoesNotDependOnTheRowsBesideIt(string weights, int inputs)
    {
        // Decoding runs a few rows at a time (8 and 4 share a pass over the weights, then 3, or 1–2 in a lighter one); each
        // row's sums must run in one order whatever the others, scalar tail (100 inputs) included.
        var rng = new Rng(8);
        var x = Tensor.Normal(rng, 0, 1, 11, inputs);
        var weight = Tensor.Normal(rng, 0, 0.2f, 50, inputs);
        if (weights == "bf16") weight.KeepBf16Copy();
        if (weights == "int8") weight.KeepInt8Copy();
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
    [InlineData('B', false, 5, 70, 37)]
    [InlineData('B', true, 5, 70, 37)]
    [InlineData('B', false, 40, 130, 200)]
    [InlineData('B', true, 40, 130, 200)]
    [InlineData('B', false, 203, 97, 450)]
    [InlineData('B', true, 203, 97, 450)]
    [InlineData('A', false, 17, 70, 37)]
    [InlineData('A', true, 5, 70, 37)]
    [InlineData('A', false, 40, 130, 200)]
    [InlineData('A', true, 40, 130, 200)]
    [InlineData('A', false, 203, 97, 450)]
    [InlineData('A', true, 203, 97, 450)]
    [InlineData('A', true, 13, 33, 9)]
    public unsafe void AGemmOnABf16OperandIsTheFloat32GemmOnTheRoundedValues(char operand, bool transposed, int m, int n, int k)
    {
        // B in bf16 (frozen weights, decoding's copies): few rows take the skinny kernels, many the packed GEMM, which
        // widens B while packing it. A in bf16 (a backward pass reading packed activations: a Conv1D weight gradient,
        // attention's Pᵀ·dO) is widened as it is packed into panels, every edge included (rows past the last full six,
        // the eight-wide widening of a transposed A). Either way the sums are float32's on the rounded values, in the same
        // order, so the results are bit-identical. (A bf16 A always takes the packed path, while a float32 A of at most 16
        // rows, untransposed, takes the skinny kernels, which sum in another order: those shapes are compared from 17 rows.)
        var rng = new Rng(11);
        bool halfA = operand == 'A';
        var half = Enumerable.Range(0, (halfA ? m : n) * k).Select(_ => Bf16.FromFloat(rng.NextNormal())).ToArray();
        var rounded = half.Select(Bf16.ToFloat).ToArray();
        var other = Enumerable.Range(0, (halfA ? n : m) * k).Select(_ => rng.NextNormal()).ToArray();
        var bias = Enumerable.Range(0, n).Select(_ => rng.NextNormal()).ToArray();
        var start = Enumerable.Range(0, m * n).Select(_ => rng.NextNormal()).ToArray();
        foreach (bool accumulate in new[] { false, true })
        {
            float[] viaHalf = (float[])start.Clone(), viaFloat = (float[])start.Clone();
            fixed (float* po = other, pr = rounded, pbias = bias, c1 = viaHalf, c2 = viaFloat)
            fixed (ushort* ph = half)
            {
                if (halfA)
                {
                    int lda = transposed ? m : k;
                    Gemm.Multiply<ushort, Bf16Storage, float, Fp32Storage>(transposed, false, m, n, k, ph, lda, po, n, c1, n, accumulate, 2, pbias);
                    Gemm.Multiply(transposed, false, m, n, k, pr, lda, po, n, c2, n, accumulate, 2, pbias);
                }
                else
                {
                    int ldb = transposed ? k : n;
                    Gemm.Multiply(false, transposed, m, n, k, po, k, ph, ldb, c1, n, accumulate, 2, pbias);
                    Gemm.Multiply(false, transposed, m, n, k, po, k, pr, ldb, c2, n, accumulate, 2, pbias);
                }
            }
            Assert.Equal(viaFloat, viaHalf);
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public unsafe void BackwardKernelsReadPackedActivationsWithoutWideningThem(string family)
    {
        // A block of every op a GPT-2 or Llama block runs, under Bf16SavedActivations. Its backward kernels (linear
        // weight gradients, attention, norms, GELU/SiLU, products) read what was packed as it is: every tensor packed
        // after the forward is still packed when the block's backward ends. The gradients are those of the float32
        // path run on the same tensors widened first, bit for bit.
        Tensor[] Parameters()
        {
            var rng = new Rng(21);
            Tensor P(string name, params int[] shape) => Tensor.Parameter(name, Tensor.Normal(rng, 0, 0.2f, shape));
            return [P("x", 2, 64, 64), P("ln1", 64), P("ln1b", 64), P("qkv", 64, 192), P("qkvb", 192), P("o", 64, 64), P("ln2", 64), P("ln2b", 64),
                P("up", 64, 128), P("gate", 128, 64), P("down", 64, 128), P("q", 64, 64), P("k", 32, 64), P("v", 32, 64)];
        }
        (float[][] Gradients, int Packed, int StillPacked) Run(bool widenFirst)
        {
            var w = Parameters();
            var x = w[0];
            int packed = 0, stillPacked = -1;
            List<Tensor> packedTensors = [];
            using var tape = new Tape();
            var y = Ops.Bf16SavedActivations(input =>
            {
                // Runs its backward after every other op of the block and before the block's storage is released.
                var probed = Tensor.Uninitialized((int[])input.Shape.Clone());
                input.Span.CopyTo(probed.Span);
                Tape.Record(probed, "probe", () =>
                {
                    stillPacked = packedTensors.Count(t => t.PackedPtr != null);
                    var g = input.EnsureGrad().Span;
                    System.Numerics.Tensors.TensorPrimitives.Add(g, probed.Grad!.Span, g);
                }, input);
                if (family == "gpt2")
                {
                    var h = Ops.LayerNorm(probed, w[1], w[2], 1e-5f);
                    var a = Ops.Attention(Ops.Linear(h, w[3], w[4], Ops.WeightLayout.InOut), 4, default, causal: true);
                    var (sum, h2) = Ops.ResidualLayerNorm(probed, Ops.Linear(a, w[5], null, Ops.WeightLayout.InOut), w[6], w[7], 1e-5f);
                    var m = Ops.Linear(Ops.GeluTanh(Ops.Linear(h2, w[8], null, Ops.WeightLayout.InOut)), w[9], null, Ops.WeightLayout.InOut);
                    return sum + Ops.Exp(m * 0.1f);
                }
                else
                {
                    var h = Ops.RmsNorm(probed, w[1], 1e-5f);
                    var q = Ops.Linear(h, w[11], null, Ops.WeightLayout.OutIn);
                    var k = Ops.Linear(h, w[12], null, Ops.WeightLayout.OutIn);
                    var v = Ops.Linear(h, w[13], null, Ops.WeightLayout.OutIn);
                    var a = Ops.Attention(q, k, v, 4, 2, default, causal: true);
                    var (sum, h2) = Ops.ResidualRmsNorm(probed, a, w[6], 1e-5f);
                    var up = Ops.Linear(h2, Ops.Reshape(w[9], 128, 64), null, Ops.WeightLayout.OutIn);
                    var gated = Ops.Silu(Ops.Linear(h2, Ops.Reshape(w[8], 128, 64), null, Ops.WeightLayout.OutIn)) * up;
                    return sum + Ops.Linear(gated, w[10], null, Ops.WeightLayout.OutIn);
                }
            }, x);
            packedTensors.AddRange(tape.OwnedSince(0).Where(t => t.PackedPtr != null));
            packed = packedTensors.Count;
            if (widenFirst) foreach (var t in packedTensors) _ = t.Span[0];
            tape.Backward(Ops.Sum(y * y));
            // Parameters the family's block does not use have no gradient.
            return (w.Select(p => p.Grad is { } g ? g.Span.ToArray() : []).ToArray(), packed, stillPacked);
        }
        var direct = Run(widenFirst: false);
        var widened = Run(widenFirst: true);
        Assert.True(direct.Packed >= 10, $"{direct.Packed} tensors packed");
        Assert.Equal(direct.Packed, direct.StillPacked);
        Assert.Equal(0, widened.StillPacked);
        for (int i = 0; i < direct.Gradients.Length; i++) Assert.Equal(widened.Gradients[i], direct.Gradients[i]);
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
