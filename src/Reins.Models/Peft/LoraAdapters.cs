using Reins.Tensors;
using Reins.Tensors.Nn;

namespace Reins.Models.Peft;

/// <summary>A model's LoRA adapters: the settings they were made with (targets and saved modules resolved) and each adapted layer.</summary>
public sealed class LoraAdapters(LoraConfig config, IReadOnlyList<(string Path, Linear Layer, LoraAdapter Adapter)> layers)
{
    /// <summary>The settings, with modules_to_save resolved.</summary>
    public LoraConfig Config { get; } = config;

    /// <summary>Each adapted layer by its dotted path.</summary>
    public IReadOnlyList<(string Path, Linear Layer, LoraAdapter Adapter)> Layers { get; } = layers;

    /// <summary>
    /// Seeds the dropout masks of the next forward pass from <paramref name="seed"/> (the trainer derives it from the
    /// run's seed, the optimiser step and the micro-batch), so a resumed or data-parallel run draws the masks an
    /// uninterrupted single process draws.
    /// </summary>
    public void SeedDropout(ulong seed)
    {
        if (Config.Dropout == 0) return;
        var rng = new Rng(seed);
        foreach (var (_, _, adapter) in Layers) adapter.DropoutRng = rng;
    }
}
