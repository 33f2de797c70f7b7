using System.Numerics.Tensors;

namespace Reins.Tensors.Optim;

/// <summary>An optimiser over a fixed list of parameters, with state that can be saved for exact resume.</summary>
public abstract class Optimizer
{
    /// <summary>The parameters updated by <see cref="Step"/>; frozen ones (RequiresGrad false) are skipped.</summary>
    public IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>Learning rate used by the next step (schedules set it before each step).</summary>
    public float LearningRate { get; set; }

    /// <summary>Steps taken so far.</summary>
    public long StepCount { get; protected set; }

    /// <summary>Creates an optimiser over the given parameters.</summary>
    protected Optimizer(IEnumerable<Tensor> parameters, float learningRate)
    {
        Parameters = parameters.ToList();
        var names = new HashSet<string>();
        foreach (var p in Parameters)
            if (p.Name is null || !names.Add(p.Name))
                throw new ArgumentException($"Optimizer parameters need unique names; '{p.Name}' is {(p.Name is null ? "unnamed" : "repeated")}.");
        LearningRate = learningRate;
    }

    /// <summary>Applies one update from the accumulated gradients.</summary>
    public abstract void Step();

    /// <summary>Zeroes every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.ZeroGrad();
    }

    /// <summary>
    /// Sums every trainable parameter's gradient over the ranks of a data-parallel run (MPI_Allreduce), so each rank
    /// holds the whole step's gradient and takes the same step; a parameter this rank gave no gradient joins with zeros.
    /// Nothing happens without mpirun.
    /// </summary>
    public void SumGradientsAcrossRanks()
    {
        if (!Distributed.World.IsDistributed) return;
        foreach (var p in Parameters)
            if (p.RequiresGrad) Distributed.World.Sum(p.EnsureGrad().Span);
    }

    /// <summary>Named state tensors (e.g. "exp_avg.{param}") and scalars, for checkpoints.</summary>
    public abstract IEnumerable<(string Name, float[] Values)> StateTensors();

    /// <summary>Restores state written by <see cref="StateTensors"/>; names must match exactly.</summary>
    public abstract void LoadState(IReadOnlyDictionary<string, float[]> tensors, long stepCount);

    /// <summary>Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public float ClipGradNorm(float maxNorm)
    {
        double sq = 0;
        foreach (var p in Parameters)
        {
            if (p.Grad is not { } g) continue;
            // Squares summed per piece in float, as PyTorch sums each tensor's norm, then the pieces in order in double.
            var partial = new double[(g.Size + ParallelPiece - 1) / ParallelPiece];
            Engine.ForRanges(g.Size, ParallelPiece, (s, n) => partial[s / ParallelPiece] = TensorPrimitives.Dot(g.Span.Slice(s, n), g.Span.Slice(s, n)));
            foreach (var x in partial) sq += x;
        }
        float norm = (float)Math.Sqrt(sq);
        // PyTorch's clip_grad_norm_: coefficient max/(norm + 1e-6), applied only when it is below 1.
        float coef = maxNorm / (norm + 1e-6f);
        if (coef < 1)
            foreach (var p in Parameters)
                if (p.Grad is { } g) Engine.ForRanges(g.Size, ParallelPiece, (s, n) => TensorPrimitives.Multiply(g.Span.Slice(s, n), coef, g.Span.Slice(s, n)));
        return norm;
    }

    /// <summary>Elements per parallel piece of an update (64 K: enough work to hand to another thread).</summary>
    private protected const int ParallelPiece = 1 << 16;

    private protected static float[] StateFor(Dictionary<Tensor, float[]> state, Tensor p)
    {
        if (!state.TryGetValue(p, out var s)) state[p] = s = new float[p.Size];
        return s;
    }

    private protected void LoadInto(Dictionary<Tensor, float[]> state, string prefix, IReadOnlyDictionary<string, float[]> tensors)
    {
        foreach (var p in Parameters)
        {
            if (!tensors.TryGetValue(prefix + p.Name, out var v)) continue;
            if (v.Length != p.Size)
                throw new ArgumentException($"Optimizer state '{prefix}{p.Name}' has {v.Length} values, the parameter has {p.Size}.");
            state[p] = (float[])v.Clone();
        }
    }
}
