using Reins.Models.Transformers;

namespace Reins.Cli.Commands;

/// <summary>
/// The benchmark configurations of ../shared/anchors/pytorch_cpu_anchor.py (vocab, width, layers, heads, context,
/// batch), so `reins bench` and the PyTorch anchor measure the same model.
/// </summary>
internal sealed record ModelPreset(string Name, int Vocab, int Hidden, int Layers, int Heads, int Context, int Batch)
{
    public static readonly ModelPreset[] All =
    [
        new("tiny", 512, 128, 4, 4, 128, 16),
        new("small", 8192, 384, 6, 6, 256, 8),
        new("gpt2", 50257, 768, 12, 12, 256, 2),
    ];

    public static ModelPreset Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new ArgumentException($"Unknown config '{name}'; expected one of {string.Join(", ", All.Select(p => p.Name))}.");

    public ModelConfig ToConfig() => ModelConfig.Gpt2(Vocab, Hidden, Layers, Heads, Context);
}
