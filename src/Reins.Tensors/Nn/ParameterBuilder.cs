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
    public Tensor Add(string name, Tensor init) => root.Register(prefix + name, init.Shape, _ => init);

    /// <summary>
    /// Registers the parameter <paramref name="name"/> of <paramref name="shape"/>, calling <paramref name="init"/>(shape) only
    /// when the module does not share a frozen one of that name and initialises its parameters.
    /// </summary>
    public Tensor Add(string name, int[] shape, Func<int[], Tensor> init) => root.Register(prefix + name, shape, init);

    /// <summary>The dotted name of the layer this builder registers ("transformer.h.3.attn").</summary>
    public string Path => prefix.TrimEnd('.');

    /// <summary>Lists a linear layer in its module's <see cref="Module.Linears"/>, so adapters can find it by name.</summary>
    public void AddLayer(Linear layer) => root.AddLinear(layer);
}
