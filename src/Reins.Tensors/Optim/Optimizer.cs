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

    /// <summary>Named state tensors (e.g. "exp_avg.{param}") and scalars, for checkpoints.</summary>
    public abstract IEnumerable<(string Name, float[] Values)> StateTensors();

    /// <summary>Restores state written by <see cref="StateTensors"/>; names must match exactly.</summary>
    public abstract void LoadState(IReadOnlyDictionary<string, float[]> tensors, long stepCount);

    /// <summary>Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public float ClipGradNorm(float maxNorm)
    {
        double sq = 0;
        foreach (var p in Parameters)
            if (p.Grad is { } g)
                foreach (var v in g.Span) sq += (double)v * v;
        float norm = (float)Math.Sqrt(sq);
        // PyTorch's clip_grad_norm_: coefficient max/(norm + 1e-6), applied only when it is below 1.
        float coef = maxNorm / (norm + 1e-6f);
        if (coef < 1)
            foreach (var p in Parameters)
                if (p.Grad is { } g) System.Numerics.Tensors.TensorPrimitives.Multiply(g.Span, coef, g.Span);
        return norm;
    }

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
