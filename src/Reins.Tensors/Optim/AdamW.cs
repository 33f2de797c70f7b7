using System.Numerics.Tensors;

namespace Reins.Tensors.Optim;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter): Adam with decoupled weight decay, matching torch.optim.AdamW exactly.
/// Like PyTorch, ε is added after bias-correcting the second moment: p −= lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
/// </summary>
public sealed class AdamW : Optimizer
{
    private readonly Dictionary<Tensor, float[]> expAvg = new(ReferenceEqualityComparer.Instance), expAvgSq = new(ReferenceEqualityComparer.Instance);

    /// <summary>β₁, the first-moment decay.</summary>
    public float Beta1 { get; }
    /// <summary>β₂, the second-moment decay.</summary>
    public float Beta2 { get; }
    /// <summary>ε in the denominator.</summary>
    public float Epsilon { get; }
    /// <summary>Decoupled weight decay λ (p −= lr·λ·p each step).</summary>
    public float WeightDecay { get; }
    /// <summary>Parameters exempt from weight decay (e.g. biases and norm weights, as most recipes do).</summary>
    public Func<Tensor, bool> DecayFilter { get; init; } = _ => true;

    /// <summary>PyTorch's defaults except weight decay, which callers choose.</summary>
    public AdamW(IEnumerable<Tensor> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0.01f)
        : base(parameters, learningRate)
    {
        (Beta1, Beta2, Epsilon, WeightDecay) = (beta1, beta2, epsilon, weightDecay);
    }

    /// <inheritdoc/>
    public override void Step()
    {
        StepCount++;
        float bc1 = 1 - MathF.Pow(Beta1, StepCount), bc2 = 1 - MathF.Pow(Beta2, StepCount);
        float stepSize = LearningRate / bc1, bc2Sqrt = MathF.Sqrt(bc2);
        foreach (var p in Parameters)
        {
            if (!p.RequiresGrad || p.Grad is not { } grad) continue;
            var m = StateFor(expAvg, p);
            var v = StateFor(expAvgSq, p);
            float decay = DecayFilter(p) ? 1 - LearningRate * WeightDecay : 1;
            Engine.ForRanges(p.Size, ParallelPiece, (s, n) => UpdateChunk(p.Span.Slice(s, n), grad.Span.Slice(s, n), m.AsSpan(s, n), v.AsSpan(s, n), decay, stepSize, bc2Sqrt));
        }
    }

    private void UpdateChunk(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float decay, float stepSize, float bc2Sqrt)
    {
        const int chunk = 1024;
        Span<float> denom = stackalloc float[chunk];
        for (int s = 0; s < w.Length; s += chunk)
        {
            int n = Math.Min(chunk, w.Length - s);
            var ws = w.Slice(s, n); var gs = g.Slice(s, n); var ms = m.Slice(s, n); var vs = v.Slice(s, n); var ds = denom[..n];
            if (decay != 1) TensorPrimitives.Multiply(ws, decay, ws);
            // m = β₁m + (1−β₁)g ; v = β₂v + (1−β₂)g²
            TensorPrimitives.Multiply(ms, Beta1, ms);
            TensorPrimitives.MultiplyAdd(gs, 1 - Beta1, ms, ms);
            TensorPrimitives.Multiply(vs, Beta2, vs);
            TensorPrimitives.Multiply(gs, gs, ds);
            TensorPrimitives.MultiplyAdd(ds, 1 - Beta2, vs, vs);
            // denom = √v / √(1−β₂ᵗ) + ε ; w −= stepSize · m / denom
            TensorPrimitives.Sqrt(vs, ds);
            TensorPrimitives.Divide(ds, bc2Sqrt, ds);
            TensorPrimitives.Add(ds, Epsilon, ds);
            TensorPrimitives.Divide(ms, ds, ds);
            TensorPrimitives.MultiplyAdd(ds, -stepSize, ws, ws);
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, float[] Values)> StateTensors()
    {
        foreach (var p in Parameters)
        {
            if (expAvg.TryGetValue(p, out var m)) yield return ("exp_avg." + p.Name, m);
            if (expAvgSq.TryGetValue(p, out var v)) yield return ("exp_avg_sq." + p.Name, v);
        }
    }

    /// <inheritdoc/>
    public override void LoadState(IReadOnlyDictionary<string, float[]> tensors, long stepCount)
    {
        LoadInto(expAvg, "exp_avg.", tensors);
        LoadInto(expAvgSq, "exp_avg_sq.", tensors);
        StepCount = stepCount;
    }
}
