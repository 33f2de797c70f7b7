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
    /// <summary>The layer's dotted name ("transformer.h.0.attn.c_attn"), or null for a map over a weight registered elsewhere.</summary>
    public string? Path { get; }
    /// <summary>A LoRA adapter whose update is added to the output, or null.</summary>
    public LoraAdapter? Adapter { get; set; }

    /// <summary>Registers "weight" of <paramref name="shape"/> from <paramref name="weight"/> and, when given, "bias" from <paramref name="bias"/>.</summary>
    public Linear(ParameterBuilder p, int[] shape, Func<int[], Tensor> weight, Tensor? bias, Ops.WeightLayout layout)
    {
        Weight = p.Add("weight", shape, weight);
        Bias = bias is null ? null : p.Add("bias", bias);
        Layout = layout;
        Path = p.Path;
        p.AddLayer(this);
    }

    /// <summary>A linear map over a weight registered elsewhere (an LM head tied to the embedding).</summary>
    public Linear(Tensor weight, Ops.WeightLayout layout) => (Weight, Layout) = (weight, layout);

    /// <summary>In features.</summary>
    public int InFeatures => Weight.Dim(Layout == Ops.WeightLayout.OutIn ? 1 : 0);
    /// <summary>Out features.</summary>
    public int OutFeatures => Weight.Dim(Layout == Ops.WeightLayout.OutIn ? 0 : 1);

    /// <summary>Applies the map (and its adapter's update) to the last dimension of <paramref name="x"/>.</summary>
    public Tensor Forward(Tensor x)
    {
        var y = Ops.Linear(x, Weight, Bias, Layout);
        return Adapter is { } adapter ? y + adapter.Forward(x) : y;
    }
}

/// <summary>A lookup table [num_embeddings, dim] ("weight").</summary>
public sealed class Embedding(ParameterBuilder p, int[] shape, Func<int[], Tensor> weight)
{
    /// <summary>The table.</summary>
    public Tensor Weight { get; } = p.Add("weight", shape, weight);

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
