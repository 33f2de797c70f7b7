namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Activation checkpointing (Chen et al. 2016; torch.utils.checkpoint): <paramref name="f"/>(<paramref name="x"/>)
    /// computed under a tape of its own that records nothing and frees its intermediate activations as soon as the
    /// output is copied out; the backward pass runs <paramref name="f"/> again, recording, and back-propagates the
    /// output's gradient through the recomputation into <paramref name="x"/> and the parameters f reads. Memory then
    /// holds one block's activations at a time instead of every block's, for one more forward per block. f must be
    /// deterministic (Reins's kernels are, so the gradients equal those without checkpointing) and read no tensor made
    /// under the current tape other than x.
    /// </summary>
    public static Tensor Checkpoint(Func<Tensor, Tensor> f, Tensor x)
    {
        if (!Tape.IsRecording) return f(x);
        float[] values;
        int[] shape;
        using (new Tape(recordGradients: false))
        {
            var r = f(x);
            (values, shape) = (r.Span.ToArray(), [.. r.Shape]);
        }
        var y = Tensor.FromArray(values, shape);
        Tape.RecordAlways(y, "checkpoint", () =>
        {
            // x's gradient belongs to the outer tape, which back-propagates it further once this returns.
            if (x.RequiresGrad) x.EnsureGrad();
            using var recompute = new Tape();
            recompute.BackwardFrom(f(x), y.Grad!.Span);
        });
        return y;
    }
}
