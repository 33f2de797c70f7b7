using Reins.Tensors.Nn;

namespace Reins.Tensors.Tests;

/// <summary>What a forward pass without gradients holds, and parameters made without initialising them.</summary>
public sealed class MemoryScopeTests
{
    [Fact]
    public void AScopedBlockReturnsWhatItMadeToThePoolAndHandsItsOutputToTheTape()
    {
        var x = Tensor.FromArray([1f, 2f, 3f], 3);
        Tensor? inside = null, y;
        using (new Tape(recordGradients: false))
        {
            y = Ops.Scoped(h => (inside = h * 2f) + 1f, x);
            Assert.Throws<ObjectDisposedException>(() => inside!.Span.ToArray());
            Assert.Equal([3f, 5f, 7f], y.Span.ToArray());
        }
        Assert.Throws<ObjectDisposedException>(() => y.Span.ToArray());
        Assert.Equal([1f, 2f, 3f], x.Span.ToArray());
    }

    [Fact]
    public void RecordingOrWithoutATapeScopedIsTheBlockItself()
    {
        var w = Tensor.Parameter("w", Tensor.FromArray([1f, 2f, 3f], 3));
        Tensor? inside = null;
        using (var tape = new Tape())
        {
            var y = Ops.Scoped(h => (inside = h * 2f) * h, w);
            // The backward reads what the block made, so a recording tape keeps it.
            Assert.Equal([2f, 4f, 6f], inside!.Span.ToArray());
            tape.Backward(Ops.Sum(y));
        }
        Assert.Equal([4f, 8f, 12f], w.Grad!.Span.ToArray());
        var outside = Ops.Scoped(h => (inside = h * 2f) + 1f, w);
        Assert.Equal([2f, 4f, 6f], inside.Span.ToArray());
        Assert.Equal([3f, 5f, 7f], outside.Span.ToArray());
    }

    private sealed class TwoParameters : Module
    {
        public int Initialised;

        public TwoParameters()
        {
            Builder.Add("a", [2, 3], shape => { Initialised++; return Tensor.Full(7f, shape); });
            Builder.Add("b", [4], shape => { Initialised++; return Tensor.Zeros(shape); });
        }
    }

    [Fact]
    public void SkippingInitialisationCallsNoInitialiserAndEndsWithItsScope()
    {
        TwoParameters skipped;
        using (var scope = Module.SkipInitialization())
        {
            skipped = new TwoParameters();
            scope.Dispose();
            scope.Dispose();
        }
        Assert.Equal(0, skipped.Initialised);
        Assert.Equal([2, 3], skipped["a"].Shape);
        Assert.Equal([4], skipped["b"].Shape);
        Assert.True(skipped["a"].RequiresGrad);
        var initialised = new TwoParameters();
        Assert.Equal(2, initialised.Initialised);
        Assert.All(initialised["a"].Span.ToArray(), v => Assert.Equal(7f, v));
    }

    private sealed class Misshapen : Module
    {
        public Misshapen() => Builder.Add("w", [2, 3], _ => Tensor.Zeros(3, 2));
    }

    [Fact]
    public void AnInitialiserOfAnotherShapeIsAnErrorNamingTheParameter()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Misshapen());
        Assert.Contains("'w'", ex.Message);
        Assert.Contains("[3,2]", ex.Message);
    }

    [Fact]
    public void AnUninitialisedParameterGetsStorageOnFirstUseAndNoneWhenHeldAsBf16()
    {
        var used = Tensor.Parameter("used", [2, 3]);
        used.Span.Fill(4f);
        Assert.Equal(Enumerable.Repeat(4f, 6), used.Span.ToArray());
        Assert.Equal(Enumerable.Repeat(4f, 3), Ops.Reshape(used, 3, 2).Span[..3].ToArray());
        var held = Tensor.Parameter("held", [2, 2]);
        ushort[] values = [.. new[] { 1f, -2f, 0.5f, 3f }.Select(Kernels.Bf16.FromFloat)];
        Assert.Throws<InvalidOperationException>(() => held.StoreAsBf16Only(values, transposed: false));
        held.RequiresGrad = false;
        Assert.Throws<ArgumentException>(() => held.StoreAsBf16Only(values[..3], transposed: false));
        held.StoreAsBf16Only(values, transposed: false);
        Assert.True(held.Bf16Only);
        Assert.Same(values, held.Bf16);
        var y = Ops.Linear(Tensor.FromArray([1f, 1f], 1, 2), held, null, Ops.WeightLayout.OutIn);
        Assert.Equal([-1f, 3.5f], y.Span.ToArray());
        Assert.Throws<InvalidOperationException>(() => held.Span.ToArray());
    }
}
