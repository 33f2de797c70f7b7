namespace Reins.Tensors.Nn;

/// <summary>y = x·Wᵀ + b (or x·W + b for the [in, out] layout of GPT-2's Conv1D), with "weight" and optional "bias".</summary>
public sealed class Linear
{
    /// <summary>The weight, [out, in] or [in, out] as <see cref="Layout"/> says.</summary>
    public Tensor Weight { get; }
    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias { get; }
    /// <summary>How <see cref="Weight"/> is stored.</summary>
    public Ops.WeightLayout Layout { get; }

    /// <summary>Registers "weight" from <paramref name="weight"/> and, when given, "bias" from <paramref name="bias"/>.</summary>
    public Linear(ParameterBuilder p, Tensor weight, Tensor? bias, Ops.WeightLayout layout)
    {
        Weight = p.Add("weight", weight);
        Bias = bias is null ? null : p.Add("bias", bias);
        Layout = layout;
    }

    /// <summary>A linear map over a weight registered elsewhere (an LM head tied to the embedding).</summary>
    public Linear(Tensor weight, Ops.WeightLayout layout) => (Weight, Layout) = (weight, layout);

    /// <summary>Applies the map to the last dimension of <paramref name="x"/>.</summary>
    public Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias, Layout);
}

/// <summary>A lookup table [num_embeddings, dim] ("weight").</summary>
public sealed class Embedding(ParameterBuilder p, Tensor weight)
{
    /// <summary>The table.</summary>
    public Tensor Weight { get; } = p.Add("weight", weight);

    /// <summary>Rows of the table for <paramref name="ids"/> [batch·time] → [batch, time, dim].</summary>
    public Tensor Forward(ReadOnlySpan<int> ids, int batch, int time) => Ops.Embedding(Weight, ids, batch, time);
}

/// <summary>A normalisation of the last dimension, alone or fused with the residual addition before it.</summary>
public interface INorm
{
    /// <summary>The normalised <paramref name="x"/>.</summary>
    Tensor Forward(Tensor x);

    /// <summary>x + delta and its normalisation, in one pass (a pre-norm block's second norm).</summary>
    (Tensor Sum, Tensor Normalized) AddAndNormalize(Tensor x, Tensor delta);
}

/// <summary>LayerNorm (Ba et al. 2016) with "weight" and "bias", as GPT-2's ln_1, ln_2 and ln_f.</summary>
public sealed class LayerNorm(ParameterBuilder p, int features, float eps) : INorm
{
    private readonly Tensor weight = p.Add("weight", Tensor.Full(1, features)), bias = p.Add("bias", Tensor.Zeros(features));

    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => Ops.LayerNorm(x, weight, bias, eps);

    /// <inheritdoc/>
    public (Tensor Sum, Tensor Normalized) AddAndNormalize(Tensor x, Tensor delta) => Ops.ResidualLayerNorm(x, delta, weight, bias, eps);
}

/// <summary>RMSNorm (Zhang and Sennrich 2019) with "weight", as the Llama family's norms.</summary>
public sealed class RmsNorm(ParameterBuilder p, int features, float eps) : INorm
{
    private readonly Tensor weight = p.Add("weight", Tensor.Full(1, features));

    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => Ops.RmsNorm(x, weight, eps);

    /// <inheritdoc/>
    public (Tensor Sum, Tensor Normalized) AddAndNormalize(Tensor x, Tensor delta) => Ops.ResidualRmsNorm(x, delta, weight, eps);
}
