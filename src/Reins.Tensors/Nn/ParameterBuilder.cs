namespace Reins.Tensors.Nn;

/// <summary>
/// Registers parameters of a model's layers under dotted Hugging Face names (candle's VarBuilder): a block's builder
/// is the model's pushed by "transformer.h.3", its attention's by "attn", so the attention's projection registers as
/// "transformer.h.3.attn.c_attn.weight" and a checkpoint maps onto the layers by name alone.
/// </summary>
public readonly struct ParameterBuilder
{
    private readonly Module root;
    private readonly string prefix;

    internal ParameterBuilder(Module root, string prefix) => (this.root, this.prefix) = (root, prefix);

    /// <summary>The builder of the sub-layer called <paramref name="name"/>.</summary>
    public ParameterBuilder Push(string name) => new(root, prefix + name + ".");

    /// <summary>Registers the parameter <paramref name="name"/> (under this builder's prefix) initialised from <paramref name="init"/>.</summary>
    public Tensor Add(string name, Tensor init) => root.Register(prefix + name, init);
}
