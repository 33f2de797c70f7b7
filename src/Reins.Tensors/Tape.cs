namespace Reins.Tensors;

/// <summary>
/// The autograd tape and the memory scope of one step. While a tape is current, every op appends its
/// backward function here, and every tensor it creates takes pooled storage that goes back to the pool
/// when the tape is disposed. Parameters are created outside tapes and keep their storage and gradients.
/// </summary>
/// <example>
/// using (var tape = new Tape()) { var loss = model.Loss(batch); tape.Backward(loss); }  // grads are in the parameters
/// optimizer.Step();
/// </example>
public sealed class Tape : IDisposable
{
    [ThreadStatic] private static Tape? current;

    private readonly Tape? outer;
    private readonly List<(Tensor Output, Action Backward)> nodes = [];
    private readonly List<Tensor> owned = [];
    private readonly List<Tensor> ownedGrads = [];
    private int noGradDepth;
    private bool disposed;

    /// <summary>The innermost tape on this thread, or null.</summary>
    public static Tape? Current => current;

    /// <summary>
    /// When true, every op checks its output (and backward its gradients) for NaN/Inf and throws naming the
    /// first op that produced one, like PyTorch's detect_anomaly. Costs a pass over each tensor.
    /// </summary>
    public static bool DetectAnomaly { get; set; }

    /// <summary>When set, ops report their forward and backward wall time here (see BENCHMARKS.md's profiles).</summary>
    public static OpProfile? Profile { get; set; }

    /// <summary>Starts a tape. With <paramref name="recordGradients"/> false it is only a memory scope (inference).</summary>
    public Tape(bool recordGradients = true)
    {
        outer = current;
        current = this;
        if (!recordGradients) noGradDepth = 1;
    }

    /// <summary>Whether ops on this thread record backward functions right now.</summary>
    public static bool IsRecording => current is { noGradDepth: 0 };

    /// <summary>Suspends recording on the current tape until the returned scope is disposed.</summary>
    public static IDisposable NoGrad() => new NoGradScope(current);

    private sealed class NoGradScope : IDisposable
    {
        private Tape? tape;
        public NoGradScope(Tape? tape) { this.tape = tape; if (tape is not null) tape.noGradDepth++; }
        public void Dispose() { if (tape is not null) tape.noGradDepth--; tape = null; }
    }

    internal void Own(Tensor t) => owned.Add(t);
    internal void OwnGrad(Tensor t) => ownedGrads.Add(t);

    /// <summary>Stops owning <paramref name="t"/> (its storage then outlives this tape); false when this tape did not own it.</summary>
    internal bool Disown(Tensor t) => owned.Remove(t);

    /// <summary>How many tensors this tape owns and how many backward steps it holds: marks to take what an op adds after them.</summary>
    internal (int Owned, int Nodes) Marks => (owned.Count, nodes.Count);

    /// <summary>The tensors made under this tape since <paramref name="mark"/> (from <see cref="Marks"/>).</summary>
    internal IEnumerable<Tensor> OwnedSince(int mark) => owned.Skip(mark);

    /// <summary>
    /// Runs <paramref name="after"/> right after the backward step recorded at <paramref name="node"/>: once that step has
    /// run, so has every later one (the tape runs backward), so what only they read is dead.
    /// </summary>
    internal void AfterBackward(int node, Action after)
    {
        var (output, backward) = nodes[node];
        nodes[node] = (output, () => { backward(); after(); });
    }

    /// <summary>
    /// Records <paramref name="backward"/> for <paramref name="output"/> if recording is on and any input needs a
    /// gradient; marks the output as requiring one. Returns whether it recorded.
    /// </summary>
    internal static bool Record(Tensor output, string op, Action backward, params ReadOnlySpan<Tensor?> inputs)
    {
        bool any = false;
        foreach (var t in inputs) any |= t is { RequiresGrad: true };
        if (any) return RecordAlways(output, op, backward);
        MarkForward(output, op);
        return false;
    }

    /// <summary>
    /// Records <paramref name="backward"/> for <paramref name="output"/> whenever recording is on, whatever its inputs: an
    /// op whose gradient reaches parameters it does not name (a checkpointed block) must run even when its input needs none.
    /// </summary>
    internal static bool RecordAlways(Tensor output, string op, Action backward)
    {
        MarkForward(output, op);
        var tape = current;
        if (tape is null || tape.noGradDepth > 0) return false;
        output.RequiresGrad = true;
        tape.nodes.Add((output, backward));
        return true;
    }

    /// <summary>Names, profiles and anomaly-checks the output of an inference-only op (one with no backward).</summary>
    internal static void MarkForward(Tensor output, string op)
    {
        output.Op = op;
        Profile?.Forward(op);
        if (DetectAnomaly) CheckFinite(output, op, "forward output");
    }

    /// <summary>
    /// Back-propagates from the scalar <paramref name="loss"/>, accumulating into every reachable tensor's
    /// gradient (so repeated calls over micro-batches sum, as gradient accumulation needs).
    /// </summary>
    public void Backward(Tensor loss, float scale = 1f)
    {
        if (loss.Size != 1)
            throw new InvalidOperationException($"Backward needs a one-element loss; got shape {Tensor.Format(loss.Shape)} from op '{loss.Op}'. Reduce it with Sum or Mean first.");
        if (!loss.RequiresGrad)
            throw new InvalidOperationException($"Backward: the loss (from op '{loss.Op}') does not depend on any tensor that requires a gradient, or was computed outside this tape or under NoGrad.");
        loss.EnsureGrad().Span[0] += scale;
        Propagate();
    }

    /// <summary>
    /// Back-propagates <paramref name="gradient"/> (of <paramref name="output"/>'s shape) from a non-scalar
    /// <paramref name="output"/>, as a checkpointed block's recomputation receives the gradient of its output.
    /// </summary>
    internal void BackwardFrom(Tensor output, ReadOnlySpan<float> gradient)
    {
        if (!output.RequiresGrad) return;
        var g = output.EnsureGrad().Span;
        for (int i = 0; i < g.Length; i++) g[i] += gradient[i];
        Propagate();
    }

    private void Propagate()
    {
        using var pause = NoGrad();
        for (int i = nodes.Count - 1; i >= 0; i--)
        {
            var (output, backward) = nodes[i];
            if (output.Grad is null) continue;
            if (DetectAnomaly) CheckFinite(output.Grad, output.Op, "gradient flowing into the backward of");
            long start = Profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            backward();
            Profile?.Backward(output.Op, start);
            // Every consumer of this output sits later on the tape and has already run, so its gradient is
            // dead: returning it now keeps at most a few activation gradients alive at once.
            if (output.Name is null) output.ReleaseGrad();
        }
        nodes.Clear();
    }

    private static void CheckFinite(Tensor t, string op, string what)
    {
        var s = t.Span;
        for (int i = 0; i < s.Length; i++)
            if (!float.IsFinite(s[i]))
                throw new ArithmeticException($"Anomaly: {what} op '{op}' (shape {Tensor.Format(t.Shape)}) holds {s[i]} at flat index {i}.");
    }

    /// <summary>Returns every buffer this tape created to the pool; tensors made under it are unusable afterwards.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (current != this)
            throw new InvalidOperationException("Tapes must be disposed innermost first.");
        current = outer;
        foreach (var t in ownedGrads) t.ReleaseGrad();
        foreach (var t in owned) { t.ReleaseGrad(); t.Release(); }
        owned.Clear();
        ownedGrads.Clear();
        nodes.Clear();
    }
}
