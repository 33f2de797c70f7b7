using System.Numerics.Tensors;
using Reins.Tensors.Kernels;

namespace Reins.Tensors.Tests;

/// <summary>int8 weight copies for sampling: absmax codes per output, float32 sums over the codes, the scale last.</summary>
public sealed class Int8Tests
{
    [Fact]
    public void EachOutputIsQuantisedToTheNearestCodeOfItsOwnScale()
    {
        var rng = new Rng(31);
        int outputs = 9, inputs = 70;
        var w = Enumerable.Range(0, outputs * inputs).Select(i => i / inputs == 4 ? 0f : rng.NextNormal() * (1 + i / inputs)).ToArray();
        var q = Int8Matrix.Quantize(outputs, inputs, (o, row) => w.AsSpan(o * inputs, inputs).CopyTo(row));
        for (int o = 0; o < outputs; o++)
        {
            var codes = q.Values.AsSpan(o * inputs, inputs).ToArray();
            if (o == 4)
            {
                // An all-zero output: codes 0, scale 1 (nothing divides by zero).
                Assert.Equal(1f, q.Scales[o]);
                Assert.All(codes, c => Assert.Equal(0, c));
                continue;
            }
            Assert.Equal(w.Skip(o * inputs).Take(inputs).Max(MathF.Abs) / 127f, q.Scales[o]);
            Assert.Equal(127, codes.Max(c => Math.Abs((int)c)));
            for (int i = 0; i < inputs; i++)
                Assert.True(MathF.Abs(q.Dequantized(o, i) - w[o * inputs + i]) <= q.Scales[o] * 0.5f * (1 + 1e-5f), $"output {o}, input {i}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CopiesOfALargeMatrixAreTheSameOnAnyThreadCount(bool transposed)
    {
        // 210,000 weights: the bf16 copy, its transposition and the int8 rows are cut into pieces between the threads. The
        // bf16 copy is each weight rounded (in [out, in] order when transposed); the int8 one is what one thread makes.
        var values = Tensor.Normal(new Rng(35), 0, 0.5f, 300, 700).Span.ToArray();
        (ushort[] Half, sbyte[] Codes, float[] Scales) Copies(int threads)
        {
            int saved = Engine.Threads;
            Engine.Threads = threads;
            try
            {
                var weight = Tensor.FromArray(values, 300, 700);
                weight.KeepBf16Copy(transposed);
                weight.KeepInt8Copy(transposed);
                return ([.. weight.Bf16!], [.. weight.Int8!.Values], [.. weight.Int8.Scales]);
            }
            finally { Engine.Threads = saved; }
        }
        var (half, codes, scales) = Copies(2);
        var outputMajor = transposed ? Enumerable.Range(0, values.Length).Select(k => values[k % 300 * 700 + k / 300]).ToArray() : values;
        Assert.Equal(outputMajor.Select(Bf16.FromFloat), half);
        var one = Copies(1);
        Assert.Equal(one.Half, half);
        Assert.Equal(one.Codes, codes);
        Assert.Equal(one.Scales, scales);
        var direct = Int8Matrix.Quantize(transposed ? 700 : 300, transposed ? 300 : 700, (o, row) => outputMajor.AsSpan(o * row.Length, row.Length).CopyTo(row));
        Assert.Equal(direct.Values, codes);
    }

    [Theory]
    [InlineData(Ops.WeightLayout.OutIn, 3, true)]
    [InlineData(Ops.WeightLayout.InOut, 3, true)]
    [InlineData(Ops.WeightLayout.OutIn, 40, false)]
    [InlineData(Ops.WeightLayout.InOut, 40, true)]
    public void ALinearLayerOnItsInt8CopySumsTheCodesInFloat32ThenScales(Ops.WeightLayout layout, int rows, bool withBias)
    {
        // Few rows (decoding) take the skinny kernels and many (prefill) the packed GEMM; either way the result is the
        // float32 layer on the codes, each output then times its scale plus its bias — bit for bit. While a gradient is
        // recorded (training), the layer reads the float32 weights.
        var rng = new Rng(32);
        int inputs = 70, outputs = 45;
        var weight = Tensor.Parameter("w", Tensor.Normal(rng, 0, 0.3f, layout == Ops.WeightLayout.OutIn ? [outputs, inputs] : [inputs, outputs]));
        var bias = withBias ? Tensor.Parameter("b", Tensor.Normal(rng, 0, 0.3f, outputs)) : null;
        var x = Tensor.Normal(rng, 0, 1, rows, inputs);
        var exact = Ops.Linear(x, weight, bias, layout).Span.ToArray();
        weight.KeepInt8Copy(transposed: layout == Ops.WeightLayout.InOut);
        var q = weight.Int8!;
        var codes = Tensor.FromArray(q.Values.Select(c => (float)c).ToArray(), outputs, inputs);
        var expected = Ops.Linear(x, codes, null, Ops.WeightLayout.OutIn).Span.ToArray();
        for (int r = 0; r < rows; r++)
        {
            var row = expected.AsSpan(r * outputs, outputs);
            TensorPrimitives.Multiply(row, q.Scales, row);
            if (bias is not null) TensorPrimitives.Add(row, bias.Span, row);
        }
        var viaInt8 = Ops.Linear(x, weight, bias, layout).Span.ToArray();
        Assert.Equal(expected, viaInt8);
        Assert.NotEqual(exact, viaInt8);
        // Each weight is off by at most half its output's scale, so each output by at most that times Σ|x|.
        var xs = x.Span.ToArray();
        for (int r = 0; r < rows; r++)
        {
            float l1 = xs.Skip(r * inputs).Take(inputs).Sum(MathF.Abs);
            for (int j = 0; j < outputs; j++)
                Assert.True(MathF.Abs(exact[r * outputs + j] - viaInt8[r * outputs + j]) <= 0.5f * q.Scales[j] * l1 * 1.001f + 1e-5f, $"row {r}, output {j}");
        }
        using (new Tape())
            Assert.Equal(exact, Ops.Linear(x, weight, bias, layout).Span.ToArray());
        weight.DropInt8Copy();
        Assert.Equal(exact, Ops.Linear(x, weight, bias, layout).Span.ToArray());
    }

    [Fact]
    public void ALookupReadsTheDequantisedRowAndAMatrixHeldAsBf16IsQuantisedFromThoseValues()
    {
        var rng = new Rng(33);
        var table = Tensor.Parameter("wte", Tensor.Normal(rng, 0, 1, 11, 40));
        var rounded = Tensor.FromArray(table.Span.ToArray().Select(v => Bf16.ToFloat(Bf16.FromFloat(v))).ToArray(), 11, 40);
        table.RequiresGrad = false;
        table.StoreAsBf16Only();
        table.KeepInt8Copy();
        var q = table.Int8!;
        var fromRounded = Int8Matrix.Quantize(11, 40, (o, row) => rounded.Span.Slice(o * 40, 40).CopyTo(row));
        Assert.Equal(fromRounded.Values, q.Values);
        Assert.Equal(fromRounded.Scales, q.Scales);
        var rows = Ops.Embedding(table, [3, 0, 10], 3).Span.ToArray();
        Assert.Equal(new[] { 3, 0, 10 }.SelectMany(id => Enumerable.Range(0, 40).Select(j => q.Dequantized(id, j))), rows);
        // Its bf16 copy is [11, 40] untransposed: the transposed int8 copy it cannot give is refused, naming it.
        Assert.Contains("wte", Assert.Throws<InvalidOperationException>(() => table.KeepInt8Copy(transposed: true)).Message);
    }
}
