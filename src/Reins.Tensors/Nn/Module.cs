namespace Reins.Tensors.Nn;

/// <summary>
/// A container of named parameters. Names are dotted paths (Hugging Face's names for model weights), so a
/// checkpoint maps onto a module by name alone.
/// </summary>
public abstract class Module
{
    private readonly List<Tensor> parameters = [];
    private readonly Dictionary<string, Tensor> byName = new(StringComparer.Ordinal);
    private readonly List<Linear> linears = [];
    private readonly Module? sharedWeights;

    /// <summary>
    /// A module; with <paramref name="sharedWeights"/> (a module of the same architecture), every parameter that module
    /// holds frozen under the same name is registered as that very tensor instead of a new one (a LoRA policy's
    /// reference or critic on its frozen base: no second copy of the weights).
    /// </summary>
    protected Module(Module? sharedWeights = null) => this.sharedWeights = sharedWeights;

    /// <summary>All parameters in registration order.</summary>
    public IReadOnlyList<Tensor> Parameters => parameters;

    /// <summary>Parameters that currently receive gradients.</summary>
    public IEnumerable<Tensor> TrainableParameters => parameters.Where(p => p.RequiresGrad);

    /// <summary>The parameter called <paramref name="name"/>.</summary>
    public Tensor this[string name] => byName.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"{GetType().Name} has no parameter '{name}'.");

    /// <summary>The linear layers registered through a <see cref="ParameterBuilder"/>, in order, each with its dotted <see cref="Linear.Path"/>.</summary>
    public IReadOnlyList<Linear> Linears => linears;

    internal void AddLinear(Linear layer) => linears.Add(layer);

    /// <summary>Whether a parameter of that name exists.</summary>
    public bool HasParameter(string name) => byName.ContainsKey(name);

    /// <summary>A builder registering this module's parameters under their dotted names, for the layers it is made of.</summary>
    protected ParameterBuilder Builder => new(this, "");

    /// <summary>Registers a trainable parameter initialised from <paramref name="init"/>, or the shared frozen tensor of that name (then init is not called).</summary>
    protected internal Tensor Register(string name, Func<Tensor> init)
    {
        if (byName.ContainsKey(name)) throw new ArgumentException($"Parameter '{name}' registered twice.");
        if (sharedWeights is not null && sharedWeights.byName.TryGetValue(name, out var shared) && !shared.RequiresGrad)
        {
            parameters.Add(shared);
            byName[name] = shared;
            return shared;
        }
        var p = Tensor.Parameter(name, init());
        parameters.Add(p);
        byName[name] = p;
        return p;
    }

    /// <summary>Number of scalar parameters.</summary>
    public long ParameterCount => parameters.Sum(p => (long)p.Size);

    /// <summary>Freezes (or unfreezes) every parameter.</summary>
    public void SetTrainable(bool trainable)
    {
        foreach (var p in parameters) p.RequiresGrad = trainable;
    }

    /// <summary>Zeroes every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters) p.ZeroGrad();
    }

    /// <summary>
    /// Copies every parameter of <paramref name="source"/> that this module also has (same name, same shape required) and
    /// returns how many: a frozen copy of a policy, a critic started from a policy's trunk, a checkpoint restored. A
    /// tensor the two modules share is already the same and is left alone.
    /// </summary>
    public int CopyParametersFrom(Module source)
    {
        int copied = 0;
        foreach (var p in source.Parameters)
            if (byName.TryGetValue(p.Name!, out var mine) && !ReferenceEquals(mine, p))
            {
                Load(p.Name!, p.Span, p.Shape, source.GetType().Name);
                copied++;
            }
        return copied;
    }

    /// <summary>Copies values into the named parameter, checking the shape.</summary>
    public void Load(string name, ReadOnlySpan<float> values, int[] shape, string source)
    {
        var p = this[name];
        if (!p.Shape.AsSpan().SequenceEqual(shape))
            throw new InvalidDataException($"{source}: tensor '{name}' has shape {Tensor.Format(shape)} but the model expects {Tensor.Format(p.Shape)}.");
        values.CopyTo(p.Span);
    }
}
