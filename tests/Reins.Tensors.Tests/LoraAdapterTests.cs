using Reins.Tensors.Nn;

namespace Reins.Tensors.Tests;

/// <summary>A linear layer with a LoRA adapter: gradients by finite differences, and the invariants of its update.</summary>
public class LoraAdapterTests
{
    private static (Linear Layer, Tensor W, Tensor A, Tensor B) Layer(Ops.WeightLayout layout, int input = 6, int output = 5, int r = 3, float dropout = 0)
    {
        var w = Tensor.Uniform(new Rng(1), -1, 1, layout == Ops.WeightLayout.OutIn ? [output, input] : [input, output]);
        var a = GradCheck.Input(2, -1, 1, r, input);
        var b = GradCheck.Input(3, -1, 1, output, r);
        var layer = new Linear(w, layout) { Adapter = new LoraAdapter(a, b, scaling: 1.5f, dropout) };
        return (layer, w, a, b);
    }

    [Theory]
    [InlineData(Ops.WeightLayout.OutIn)]
    [InlineData(Ops.WeightLayout.InOut)]
    public void GradientsOfInputAndAdapterMatchFiniteDifferences(Ops.WeightLayout layout)
    {
        var (layer, w, a, b) = Layer(layout);
        var x = GradCheck.Input(4, -1, 1, 2, 4, 6);
        GradCheck.Check(t => layer.Forward(t[0]), [x, a, b], eps: 1e-3f);
        Assert.Null(w.Grad);
    }

    [Theory]
    [InlineData(Ops.WeightLayout.OutIn)]
    [InlineData(Ops.WeightLayout.InOut)]
    public void MergedWeightGivesTheAdaptedOutput(Ops.WeightLayout layout)
    {
        var (layer, w, _, _) = Layer(layout);
        var x = Tensor.Uniform(new Rng(5), -1, 1, 7, 6);
        using var _ = Tape.NoGrad();
        var adapted = layer.Forward(x).ToArray();
        var merged = Tensor.FromArray(w.ToArray(), w.Shape);
        System.Numerics.Tensors.TensorPrimitives.Add(merged.Span, layer.Adapter!.WeightDelta(layout), merged.Span);
        var expected = Ops.Linear(x, merged, null, layout).ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], adapted[i], 4);
    }

    [Fact]
    public void ZeroBLeavesTheLayerUnchanged()
    {
        var (layer, w, _, b) = Layer(Ops.WeightLayout.OutIn);
        b.Span.Clear();
        var x = Tensor.Uniform(new Rng(6), -1, 1, 4, 6);
        Assert.Equal(Ops.Linear(x, w, null, Ops.WeightLayout.OutIn).ToArray(), layer.Forward(x).ToArray());
    }

    [Fact]
    public void DropoutActsOnlyWhileTrainingAndFollowsItsSeed()
    {
        var (layer, _, _, _) = Layer(Ops.WeightLayout.OutIn, input: 64, output: 8, dropout: 0.5f);
        var x = Tensor.Uniform(new Rng(7), -1, 1, 16, 64);
        float[] Train(ulong seed)
        {
            layer.Adapter!.DropoutRng = new Rng(seed);
            using var tape = new Tape();
            return layer.Forward(x).ToArray();
        }
        float[] plain;
        using (Tape.NoGrad()) plain = layer.Forward(x).ToArray();
        Assert.Equal(Train(11), Train(11));
        Assert.NotEqual(Train(11), Train(12));
        Assert.NotEqual(plain, Train(11));
        // A frozen adapter (a reference's copy) never drops, even under a recording tape.
        layer.Adapter!.A.RequiresGrad = false;
        using (new Tape()) Assert.Equal(plain, layer.Forward(x).ToArray());
    }
}
