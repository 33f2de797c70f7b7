namespace Reins.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Runs <paramref name="f"/>(<paramref name="x"/>) outside recording in a memory scope of its own and hands only its
    /// output to the enclosing tape: a forward pass without gradients (a frozen reference's, a reward model's) then holds
    /// one block's intermediates at a time, returned to the pool for the next block, instead of every block's until its
    /// tape ends. Recording, or with no tape, it is f(x). f must not hand any tensor it made to code outside it other than its output.
    /// </summary>
    public static Tensor Scoped(Func<Tensor, Tensor> f, Tensor x)
    {
        var outer = Tape.Current;
        if (outer is null || Tape.IsRecording) return f(x);
        Tensor y;
        bool moved;
        using (var inner = new Tape(recordGradients: false))
        {
            y = f(x);
            moved = inner.Disown(y.Root);
        }
        if (moved) outer.Own(y.Root);
        return y;
    }
}
