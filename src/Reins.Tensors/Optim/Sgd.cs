using System.Numerics.Tensors;

namespace Reins.Tensors.Optim;

/// <summary>SGD with optional momentum and Nesterov momentum, as torch.optim.SGD (dampening 0).</summary>
public sealed class Sgd : Optimizer
{
    private readonly Dictionary<Tensor, float[]> momentumBuffer = new(ReferenceEqualityComparer.Instance);

    /// <summary>Momentum μ (0 disables it).</summary>
    public float Momentum { get; }
    /// <summary>Whether to use Nesterov's variant.</summary>
    public bool Nesterov { get; }
    /// <summary>L2 weight decay added to the gradient (coupled, as torch.optim.SGD).</summary>
    public float WeightDecay { get; }
    /// <summary>Parameters that weight decay applies to (e.g. not biases and norm weights, as most recipes do).</summary>
    public Func<Tensor, bool> DecayFilter { get; init; } = _ => true;

    /// <summary>Creates the optimiser.</summary>
    public Sgd(IEnumerable<Tensor> parameters, float learningRate, float momentum = 0, bool nesterov = false, float weightDecay = 0)
        : base(parameters, learningRate)
    {
        if (nesterov && momentum <= 0) throw new ArgumentException("Nesterov momentum needs momentum > 0.");
        (Momentum, Nesterov, WeightDecay) = (momentum, nesterov, weightDecay);
    }

    /// <inheritdoc/>
    public override void Step()
    {
        StepCount++;
        foreach (var p in Parameters)
        {
            if (!p.RequiresGrad || p.Grad is not { } grad) continue;
            var w = p.Span; var g = grad.Span;
            var d = new float[w.Length];
            g.CopyTo(d);
            if (WeightDecay != 0 && DecayFilter(p)) TensorPrimitives.MultiplyAdd(w, WeightDecay, d, d);
            if (Momentum != 0)
            {
                // buf = μ·buf + d (the first step initialises buf = d, as PyTorch does); Nesterov uses d + μ·buf.
                bool first = !momentumBuffer.ContainsKey(p);
                var buf = StateFor(momentumBuffer, p);
                if (first) d.CopyTo(buf.AsSpan());
                else TensorPrimitives.MultiplyAdd(buf, Momentum, d, buf);
                if (Nesterov) TensorPrimitives.MultiplyAdd(buf, Momentum, d, d);
                else buf.CopyTo(d.AsSpan());
            }
            TensorPrimitives.MultiplyAdd(d, -LearningRate, w, w);
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, float[] Values)> StateTensors()
    {
        foreach (var p in Parameters)
            if (momentumBuffer.TryGetValue(p, out var b)) yield return ("momentum_buffer." + p.Name, b);
    }

    /// <inheritdoc/>
    public override void LoadState(IReadOnlyDictionary<string, float[]> tensors, long stepCount)
    {
        LoadInto(momentumBuffer, "momentum_buffer.", tensors);
        StepCount = stepCount;
    }
}
