namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Mixed-precision activation storage (what PyTorch's saved-tensor hooks do when they pack to bfloat16): runs
    /// <paramref name="f"/>(<paramref name="x"/>) recording as usual, all in float32, then stores every tensor f made
    /// (its output excepted, which the forward pass reads on) as bfloat16 until the backward pass reads it again, and
    /// returns their storage to the pool once f's backward steps have run. Memory then holds every block's activations at
    /// half their size and one block's in float32 at a time; the backward pass reads activations rounded to bfloat16.
    /// f must not hand any tensor it made to code outside it other than its output.
    /// </summary>
    public static Tensor Bf16SavedActivations(Func<Tensor, Tensor> f, Tensor x)
    {
        var tape = Tape.Current;
        if (tape is null || !Tape.IsRecording) return f(x);
        var (owned, nodes) = tape.Marks;
        var y = f(x);
        var output = y.Root;
        var packed = tape.OwnedSince(owned).Where(t => t != output && t.Pack()).ToList();
        if (packed.Count > 0 && tape.Marks.Nodes > nodes)
            tape.AfterBackward(nodes, () => { foreach (var t in packed) t.Release(); });
        return y;
    }
}
