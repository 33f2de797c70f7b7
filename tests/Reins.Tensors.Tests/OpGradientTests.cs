using Reins.Tensors;

namespace Reins.Tensors.Tests;

using static GradCheck;

/// <summary>Finite-difference gradient checks for every differentiable op.</summary>
public class OpGradientTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void MatMulAllTransposeVariants(bool ta, bool tb)
    {
        var a = Input(1, -1, 1, ta ? [5, 3] : [3, 5]);
        var b = Input(2, -1, 1, tb ? [4, 5] : [5, 4]);
        Check(x => Ops.MatMul(x[0], x[1], ta, tb), [a, b]);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void BatchedMatMul(bool ta, bool tb)
    {
        var a = Input(3, -1, 1, ta ? [2, 3, 4, 5] : [2, 3, 5, 4]);
        var b = Input(4, -1, 1, tb ? [2, 3, 6, 4] : [2, 3, 4, 6]);
        Check(x => Ops.MatMul(x[0], x[1], ta, tb), [a, b]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MatMulWithSharedWeight(bool tb)
    {
        var a = Input(5, -1, 1, 2, 3, 4);
        var w = Input(6, -1, 1, tb ? [7, 4] : [4, 7]);
        Check(x => Ops.MatMul(x[0], x[1], false, tb), [a, w]);
    }

    [Theory]
    [InlineData(Ops.WeightLayout.OutIn, true)]
    [InlineData(Ops.WeightLayout.InOut, true)]
    [InlineData(Ops.WeightLayout.OutIn, false)]
    public void Linear(Ops.WeightLayout layout, bool withBias)
    {
        var x = Input(7, -1, 1, 2, 3, 4);
        var w = Input(8, -1, 1, layout == Ops.WeightLayout.OutIn ? [5, 4] : [4, 5]);
        var b = Input(9, -1, 1, 5);
        Check(t => Ops.Linear(t[0], t[1], withBias ? t[2] : null, layout), withBias ? [x, w, b] : [x, w]);
    }

    public static TheoryData<int[], int[]> BroadcastShapes => new()
    {
        { [2, 3, 4], [2, 3, 4] },
        { [2, 3, 4], [4] },
        { [2, 3, 4], [2, 3, 1] },
        { [3, 1], [1, 4] },
        { [4], [2, 3, 4] },
        { [2, 1, 4], [3, 1] },
    };

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void BroadcastingArithmetic(int[] sa, int[] sb)
    {
        var a = Input(10, -1, 1, sa);
        var b = Input(11, 0.5f, 1.5f, sb);
        Check(x => x[0] + x[1], [a, b]);
        Check(x => x[0] - x[1], [a, b]);
        Check(x => x[0] * x[1], [a, b]);
        Check(x => x[0] / x[1], [a, b]);
    }

    [Fact]
    public void ScalarArithmetic()
    {
        var a = Input(12, -1, 1, 3, 4);
        Check(x => x[0] * 2.5f + 1f, [a]);
        Check(x => -x[0] / 4f - 3f, [a]);
    }

    public static TheoryData<string> UnaryOps => new() { "exp", "log", "sqrt", "pow", "tanh", "sigmoid", "log_sigmoid", "softplus", "silu", "gelu_tanh", "gelu", "clamp" };

    [Fact]
    public void GeluTanhMatchesItsFormulaWhateverTheLength()
    {
        // Lengths that end in a partial vector (the forward overlaps its last vector, the backward finishes in scalars)
        // and one shorter than a vector: values against the tanh formula in double precision, gradients by finite
        // differences, and the same bits for an element whichever length of at least one vector it sits in.
        var x = Tensor.Uniform(new Rng(50), -6, 6, 1030).ToArray();
        var full = Ops.GeluTanh(Tensor.FromArray(x, 1030)).ToArray();
        foreach (int length in new[] { 7, 16, 39, 1030 })
        {
            var y = Ops.GeluTanh(Tensor.FromArray(x[..length], length)).ToArray();
            for (int i = 0; i < length; i++)
            {
                double xi = x[i], expected = 0.5 * xi * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (xi + 0.044715 * xi * xi * xi)));
                Assert.True(Math.Abs(y[i] - expected) <= 1e-6 * (1 + Math.Abs(expected)), $"length {length}, x = {xi}: {y[i]} vs {expected}");
                if (length >= 16) Assert.Equal(BitConverter.SingleToInt32Bits(full[i]), BitConverter.SingleToInt32Bits(y[i]));
            }
        }
        Check(t => Ops.GeluTanh(t[0]), [Input(51, -4, 4, 3, 13)]);
    }

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void Unary(string op)
    {
        bool positive = op is "log" or "sqrt" or "pow";
        var a = Input(13, positive ? 0.3f : -3f, positive ? 2f : 3f, 4, 8);
        Func<Tensor[], Tensor> f = op switch
        {
            "exp" => x => Ops.Exp(x[0]),
            "log" => x => Ops.Log(x[0]),
            "sqrt" => x => Ops.Sqrt(x[0]),
            "pow" => x => Ops.Pow(x[0], 2.7f),
            "tanh" => x => Ops.Tanh(x[0]),
            "sigmoid" => x => Ops.Sigmoid(x[0]),
            "log_sigmoid" => x => Ops.LogSigmoid(x[0]),
            "softplus" => x => Ops.Softplus(x[0]),
            "silu" => x => Ops.Silu(x[0]),
            "gelu_tanh" => x => Ops.GeluTanh(x[0]),
            "gelu" => x => Ops.GeluExact(x[0]),
            "clamp" => x => Ops.Clamp(x[0], -1.13f, 2.07f),
            _ => throw new ArgumentException(op),
        };
        Check(f, [a]);
    }

    [Fact]
    public void Reductions()
    {
        var a = Input(14, -1, 1, 3, 4, 5);
        Check(x => Ops.Sum(x[0]), [a]);
        Check(x => Ops.Mean(x[0]), [a]);
        for (int axis = 0; axis < 3; axis++)
        {
            Check(x => Ops.Sum(x[0], axis), [a]);
            Check(x => Ops.Mean(x[0], axis, keepDim: true), [a]);
        }
        // Max is not differentiable at ties: use distinct values spaced wider than the finite-difference step.
        var order = Enumerable.Range(0, 60).OrderBy(i => (i * 37) % 61).Select(i => i * 0.05f - 1.5f).ToArray();
        var spaced = Tensor.FromArray(order, 3, 4, 5);
        spaced.RequiresGrad = true;
        for (int axis = 0; axis < 3; axis++) Check(x => Ops.Max(x[0], axis), [spaced]);
    }

    [Fact]
    public void SoftmaxAndLogSoftmax()
    {
        var a = Input(15, -3, 3, 4, 7);
        Check(x => Ops.Softmax(x[0]), [a]);
        Check(x => Ops.LogSoftmax(x[0]), [a]);
    }

    [Fact]
    public void CrossEntropyMeanAndPerToken()
    {
        var logits = Input(16, -3, 3, 2, 3, 11);
        int[] targets = [1, -100, 10, 0, 5, -100];
        Check(x => Ops.CrossEntropy(x[0], targets), [logits]);
        Check(x => Ops.CrossEntropy(x[0], targets, perToken: true), [logits]);
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.7f)]
    public void TokenLogProbs(float temperature)
    {
        var logits = Input(17, -3, 3, 2, 3, 9);
        int[] targets = [1, 2, 8, -100, 0, 4];
        Check(x => Ops.TokenLogProbs(x[0], targets, temperature), [logits]);
    }

    [Fact]
    public void EntropyFromLogits()
    {
        var logits = Input(18, -3, 3, 5, 9);
        Check(x => Ops.Entropy(x[0]), [logits]);
    }

    [Fact]
    public void EmbeddingWithRepeatedIds()
    {
        var w = Input(19, -1, 1, 6, 4);
        int[] ids = [1, 3, 1, 5, 0, 1];
        Check(x => Ops.Embedding(x[0], ids, 2, 3), [w]);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(37)]
    public void LayerNormAndRmsNorm(int n)
    {
        // 37 features: the input gradient's vector body and its scalar tail.
        var x = Input(20, -2, 2, 3, n);
        var w = Input(21, 0.5f, 1.5f, n);
        var b = Input(22, -1, 1, n);
        Check(t => Ops.LayerNorm(t[0], t[1], t[2], 1e-5f), [x, w, b]);
        Check(t => Ops.LayerNorm(t[0], t[1], null, 1e-5f), [x, w]);
        Check(t => Ops.RmsNorm(t[0], t[1], 1e-6f), [x, w]);
    }

    [Fact]
    public void FusedResidualNormsMatchTheirPartsAndDifferentiate()
    {
        var x = Input(23, -2, 2, 3, 8);
        var d = Input(24, -1, 1, 3, 8);
        var w = Input(25, 0.5f, 1.5f, 8);
        var b = Input(26, -1, 1, 8);
        // Both outputs feed the checked function, as in a pre-norm block where the sum continues the residual stream.
        Check(t => { var (s, y) = Ops.ResidualLayerNorm(t[0], t[1], t[2], t[3], 1e-5f); return s * y; }, [x, d, w, b]);
        Check(t => { var (s, y) = Ops.ResidualRmsNorm(t[0], t[1], t[2], 1e-6f); return s * y; }, [x, d, w]);
        var (sum, normed) = Ops.ResidualLayerNorm(x, d, w, b, 1e-5f);
        Assert.Equal(Ops.Add(x, d).ToArray(), sum.ToArray());
        Assert.Equal(Ops.LayerNorm(Ops.Add(x, d), w, b, 1e-5f).ToArray(), normed.ToArray());
    }

    [Fact]
    public void FirstGradientsStoredIntoRecycledBuffersIgnoreWhatTheyHeld()
    {
        // Linear, the norms and the residual add store (rather than add) the first gradient of an input into an
        // unzeroed pooled buffer (Tensor.GradToWrite). With NaN in every pooled buffer of the sizes in play, any element
        // that is added to instead of stored, or never written, shows up; the last case makes x's second gradient add.
        var x = Input(40, -1, 1, 2, 3, 8);
        var d = Input(41, -1, 1, 2, 3, 8);
        var w = Input(42, -1, 1, 8, 8);
        var g = Input(43, 0.5f, 1.5f, 8);
        foreach (var f in new Func<Tensor[], Tensor>[]
        {
            t => Ops.Linear(t[0], t[2], null, Ops.WeightLayout.OutIn),
            t => Ops.LayerNorm(Ops.Linear(t[0], t[2], null, Ops.WeightLayout.InOut), t[3], null, 1e-5f),
            t => Ops.ResidualLayerNorm(t[0], t[1], t[3], null, 1e-5f).Normed,
            t => Ops.ResidualLayerNorm(t[0], Ops.Linear(t[0], t[2], null, Ops.WeightLayout.OutIn), t[3], null, 1e-5f).Normed,
        })
        {
            foreach (int size in new[] { x.Size, w.Size, g.Size })
            {
                var held = Enumerable.Range(0, 8).Select(_ => BufferPool.Rent(size)).ToList();
                foreach (var buffer in held) { Array.Fill(buffer, float.NaN); BufferPool.Return(buffer); }
            }
            Check(f, [x, d, w, g]);
        }
    }

    [Fact]
    public void MinimumMaximumAndWhere()
    {
        var a = Input(23, -1, 1, 4, 5);
        var b = Input(24, -1, 1, 4, 5);
        var cond = Tensor.FromArray(Enumerable.Range(0, 20).Select(i => (float)(i % 3 == 0 ? 1 : 0)).ToArray(), 4, 5);
        Check(x => Ops.Minimum(x[0], x[1]), [a, b]);
        Check(x => Ops.Maximum(x[0], x[1]), [a, b]);
        Check(x => Ops.Where(cond, x[0], x[1]), [a, b]);
    }

    [Fact]
    public void DropoutUsesItsMaskInBackward()
    {
        var a = Input(25, -1, 1, 6, 7);
        Check(x => Ops.Dropout(x[0], 0.3f, new Rng(5)), [a]);
    }

    [Fact]
    public void ConcatSliceTransposeAndViews()
    {
        var a = Input(26, -1, 1, 2, 3, 4);
        var b = Input(27, -1, 1, 2, 2, 4);
        Check(x => Ops.Concat(1, x[0], x[1]), [a, b]);
        Check(x => Ops.Slice(x[0], 2, 1, 2), [a]);
        Check(x => Ops.Transpose(x[0], 0, 2), [a]);
        // Views share gradient storage with their base: both paths must add up.
        Check(x => Ops.Reshape(x[0], 6, 4) * Ops.Reshape(x[0], 6, 4), [a]);
        Check(x => Ops.Narrow0(x[0], 1, 1) * 3f, [a]);
    }

    [Theory]
    [InlineData(4, 4, false)]
    [InlineData(4, 2, false)]
    [InlineData(4, 1, true)]
    [InlineData(2, 2, true)]
    public void AttentionWithGroupedHeadsAndPadding(int heads, int kvHeads, bool leftPadded)
    {
        int batch = 2, t = 5, d = 3;
        var q = Input(28, -1, 1, batch, t, heads * d);
        var k = Input(29, -1, 1, batch, t, kvHeads * d);
        var v = Input(30, -1, 1, batch, t, kvHeads * d);
        float[] mask = leftPadded ? [1, 1, 1, 1, 1, 0, 0, 1, 1, 1] : [];
        Check(x => Ops.Attention(x[0], x[1], x[2], heads, kvHeads, mask, causal: true), [q, k, v]);
    }

    [Fact]
    public void AttentionConfinedToPackedSegments()
    {
        // Row 0 packs documents of 3 and 4 tokens; row 1 holds one document with right padding.
        var q = Input(34, -1, 1, 2, 7, 4);
        var k = Input(35, -1, 1, 2, 7, 2);
        var v = Input(36, -1, 1, 2, 7, 2);
        int[] segments = [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1];
        float[] mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
        Check(x => Ops.Attention(x[0], x[1], x[2], 2, 1, mask, causal: true, segments), [q, k, v]);

        // Each packed document sees exactly what it would see alone.
        var packed = Ops.Attention(q, k, v, 2, 1, mask, causal: true, segments).ToArray();
        var second = Ops.Attention(Ops.Slice(Ops.Narrow0(q, 0, 1), 1, 3, 4), Ops.Slice(Ops.Narrow0(k, 0, 1), 1, 3, 4), Ops.Slice(Ops.Narrow0(v, 0, 1), 1, 3, 4), 2, 1, default, causal: true).ToArray();
        for (int i = 0; i < second.Length; i++) Assert.Equal(second[i], packed[3 * 4 + i], 5);
        Assert.Throws<ArgumentException>(() => Ops.Attention(q, k, v, 2, 1, mask, causal: true, [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(3, true)]
    [InlineData(1, true)]
    public void AttentionOnAFusedQkvProjection(int queries, bool leftPadded)
    {
        // [B, T, 3·H·D] read in place, queries at the last positions only when queries > 0: gradients by finite
        // differences, and values and qkv's gradient equal to attention on the three slices.
        int batch = 2, t = 5, heads = 2, d = 3, c = heads * d, tq = queries == 0 ? t : queries;
        var qkv = Input(40, -1, 1, batch, t, 3 * c);
        float[] mask = leftPadded ? [0, 1, 1, 1, 1, 0, 0, 1, 1, 1] : [];
        Check(x => Ops.Attention(x[0], heads, mask, causal: true, default, queries), [qkv]);

        var weights = Tensor.Uniform(new Rng(41), -1, 1, batch, tq, c);
        float[] Grad(Func<Tensor, Tensor> attend)
        {
            qkv.ClearGrad();
            using var tape = new Tape();
            tape.Backward(Ops.Sum(attend(qkv) * weights));
            return qkv.Grad!.ToArray();
        }
        Tensor Sliced(Tensor p) => Ops.Attention(Ops.Slice(Ops.Slice(p, -1, 0, c), 1, t - tq, tq), Ops.Slice(p, -1, c, c), Ops.Slice(p, -1, 2 * c, c), heads, heads, mask, causal: true);
        var fused = Ops.Attention(qkv, heads, mask, causal: true, default, queries).ToArray();
        var sliced = Sliced(qkv).ToArray();
        Assert.Equal(sliced.Length, fused.Length);
        for (int i = 0; i < fused.Length; i++) Assert.Equal(sliced[i], fused[i], 6);
        var (gf, gs) = (Grad(p => Ops.Attention(p, heads, mask, causal: true, default, queries)), Grad(Sliced));
        Assert.Contains(gf, g => g != 0);
        for (int i = 0; i < gf.Length; i++) Assert.Equal(gs[i], gf[i], 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Attention(qkv, heads, mask, causal: true, default, t + 1));
        Assert.Throws<ArgumentException>(() => Ops.Attention(Input(42, -1, 1, batch, t, 3 * c + 1), heads, mask, causal: true));
    }

    [Fact]
    public void AttentionWithCachedKeysLongerThanQueries()
    {
        var q = Input(31, -1, 1, 1, 2, 4);
        var k = Input(32, -1, 1, 1, 5, 4);
        var v = Input(33, -1, 1, 1, 5, 4);
        Check(x => Ops.Attention(x[0], x[1], x[2], 2, 2, default, causal: true), [q, k, v]);
    }

    [Theory]
    [InlineData(70, 70)]
    [InlineData(40, 75)]
    public void CausalAttentionAcrossSeveralQueryBlocks(int t, int s)
    {
        // More query rows than one 32-row block, with the first keys padded, so rows whose visible keys end inside
        // the score matrix are checked in the forward and the backward.
        var q = Input(37, -1, 1, 1, t, 4);
        var k = Input(38, -1, 1, 1, s, 2);
        var v = Input(39, -1, 1, 1, s, 2);
        float[] mask = [.. Enumerable.Range(0, s).Select(j => j < 3 ? 0f : 1f)];
        Check(x => Ops.Attention(x[0], x[1], x[2], 2, 1, mask, causal: true), [q, k, v]);

        // Row i equals one query attending, without a causal mask, to exactly the keys up to its position.
        var y = Ops.Attention(q, k, v, 2, 1, mask, causal: true).ToArray();
        foreach (int i in new[] { 5, 31, 32, 33, t - 1 })
        {
            int seen = s - t + i + 1;
            var alone = Ops.Attention(Ops.Slice(q, 1, i, 1), Ops.Slice(k, 1, 0, seen), Ops.Slice(v, 1, 0, seen), 2, 1, mask.AsSpan(0, seen), causal: false).ToArray();
            for (int c = 0; c < 4; c++) Assert.Equal(alone[c], y[i * 4 + c], 5);
        }
    }

    // The output and every input's gradient of an attention call, under one tape, the loss a fixed weighting of the output.
    private static float[][] OutputAndGradients(Func<Tensor[], Tensor> f, Tensor[] inputs)
    {
        foreach (var x in inputs) x.ClearGrad();
        using var tape = new Tape();
        var y = f(inputs);
        tape.Backward(Ops.Sum(y * Tensor.Uniform(new Rng(7), -1, 1, y.Shape)));
        return [y.ToArray(), .. inputs.Select(x => x.Grad!.ToArray())];
    }

    [Theory]
    [InlineData("grouped, left-padded, three query blocks")]
    [InlineData("fused, last positions only")]
    [InlineData("packed documents")]
    public void RecomputedAttentionGivesTheKeptGradientsBitForBit(string layout)
    {
        float[] Mask(int rows, int length) => [.. Enumerable.Range(0, rows * length).Select(i => i % length < (i / length) * 2 ? 0f : 1f)];
        (Func<Tensor[], bool, Tensor> F, Tensor[] Inputs) call = layout switch
        {
            "grouped, left-padded, three query blocks" => ((x, r) => Ops.Attention(x[0], x[1], x[2], 4, 2, Mask(2, 70), causal: true, default, r),
                [Input(50, -1, 1, 2, 70, 12), Input(51, -1, 1, 2, 70, 6), Input(52, -1, 1, 2, 70, 6)]),
            "fused, last positions only" => ((x, r) => Ops.Attention(x[0], 2, Mask(2, 40), causal: true, default, 33, r), [Input(53, -1, 1, 2, 40, 3 * 8)]),
            _ => ((x, r) => Ops.Attention(x[0], x[1], x[2], 2, 1, default, causal: true, [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2], r),
                [Input(54, -1, 1, 1, 40, 4), Input(55, -1, 1, 1, 40, 2), Input(56, -1, 1, 1, 40, 2)]),
        };
        var kept = OutputAndGradients(x => call.F(x, false), call.Inputs);
        var recomputed = OutputAndGradients(x => call.F(x, true), call.Inputs);
        for (int i = 0; i < kept.Length; i++) Assert.Equal(kept[i], recomputed[i]);
        Check(x => call.F(x, true), call.Inputs);
    }

    [Fact]
    public void RotaryEmbedding()
    {
        int heads = 2, d = 6;
        var x = Input(34, -1, 1, 2, 3, heads * d);
        var cos = Tensor.Uniform(new Rng(1), -1, 1, 8, d / 2);
        var sin = Tensor.Uniform(new Rng(2), -1, 1, 8, d / 2);
        int[] pos = [0, 1, 2, 5, 6, 7];
        Check(t => Ops.Rotary(t[0], heads, pos, cos, sin), [x]);
    }
}
