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

    [ThreadStatic] private static int skipInitialization;

    /// <summary>
    /// Until disposed, modules built on this thread give their parameters storage without initialising it (transformers'
    /// no_init_weights): for a model whose every weight is read from a checkpoint next, so loading neither samples
    /// every parameter nor holds a second, random copy of the weights while it reads the first.
    /// </summary>
    public static IDisposable SkipInitialization() => new InitializationScope();

    private sealed class InitializationScope : IDisposable
    {
        private bool disposed;
        public InitializationScope() => skipInitialization++;
        public void Dispose() { if (!disposed) skipInitialization--; disposed = true; }
    }

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

    /// <summary>
    /// Registers a trainable parameter of <paramref name="shape"/> initialised by <paramref name="init"/>, or the shared
    /// frozen tensor of that name (then init is not called), or, under <see cref="SkipInitialization"/>, one left unset.
    /// </summary>
    protected internal Tensor Register(string name, int[] shape, Func<int[], Tensor> init)
    {
        if (byName.ContainsKey(name)) throw new ArgumentException($"Parameter '{name}' registered twice.");
        if (sharedWeights is not null && sharedWeights.byName.TryGetValue(name, out var shared) && !shared.RequiresGrad)
        {
            parameters.Add(shared);
            byName[name] = shared;
            return shared;
        }
        var p = skipInitialization > 0 ? Tensor.Parameter(name, shape) : Tensor.Parameter(name, init(shape));
        if (!p.Shape.AsSpan().SequenceEqual(shape))
            throw new ArgumentException($"Parameter '{name}': its initialiser made shape {Tensor.Format(p.Shape)}, not {Tensor.Format(shape)}.");
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
    public void Load(string name, ReadOnlySpan<float> values, int[] shape, string source) => values.CopyTo(CheckShape(name, shape, source).Span);

    /// <summary>The named parameter, if it has <paramref name="shape"/>; else an error naming <paramref name="source"/>.</summary>
    public Tensor CheckShape(string name, int[] shape, string source)
    {
        var p = this[name];
        if (!p.Shape.AsSpan().SequenceEqual(shape))
            throw new InvalidDataException($"{source}: tensor '{name}' has shape {Tensor.Format(shape)} but the model expects {Tensor.Format(p.Shape)}.");
        return p;
    }
}
