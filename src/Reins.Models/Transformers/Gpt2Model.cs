using Reins.Tensors;
using Reins.Tensors.Nn;

namespace Reins.Models.Transformers;

/// <summary>
/// GPT-2 (Radford et al. 2019) with Hugging Face's parameter names and layouts: learned positions, pre-norm blocks of
/// fused-q/k/v attention and a GELU MLP (Conv1D weights stored [in, out]), a final LayerNorm, and an LM head tied to
/// the token embedding.
/// </summary>
public sealed class Gpt2Model : CausalLanguageModel
{
    private readonly Embedding tokens, positions;
    private readonly TransformerBlock[] blocks;
    private readonly LayerNorm finalNorm;

    /// <summary>Registers parameters with GPT-2's initialisation (N(0, 0.02); residual projections scaled by 1/√(2L)).</summary>
    public Gpt2Model(ModelConfig config, Rng rng, CausalLanguageModel? sharedWeights = null) : base(config, sharedWeights)
    {
        if (config.Family != ModelFamily.Gpt2) throw new ArgumentException("Gpt2Model needs a GPT-2 family config.");
        int c = config.HiddenSize;
        float std = config.InitializerRange, residualStd = std / MathF.Sqrt(2 * config.Layers);
        Tensor Normal(int[] shape, float s) => Tensor.Normal(rng, 0, s, shape);
        var p = Builder.Push("transformer");
        tokens = new Embedding(p.Push("wte"), [config.VocabSize, c], shape => Normal(shape, std));
        positions = new Embedding(p.Push("wpe"), [config.MaxPositions, c], shape => Normal(shape, std));
        blocks = new TransformerBlock[config.Layers];
        for (int i = 0; i < config.Layers; i++)
        {
            var h = p.Push($"h.{i}");
            blocks[i] = new TransformerBlock(
                new LayerNorm(h.Push("ln_1"), c, config.NormEps), new FusedQkvAttention(h.Push("attn"), i, c, config.Heads, Normal, std, residualStd),
                new LayerNorm(h.Push("ln_2"), c, config.NormEps), new GeluMlp(h.Push("mlp"), c, config.IntermediateSize, config.Activation == "gelu", Normal, std, residualStd));
        }
        finalNorm = new LayerNorm(p.Push("ln_f"), c, config.NormEps);
        AddHeads(tokens.Weight, Normal);
    }

    private protected override Tensor Forward(ModelInput input, int[] positionIds, in AttentionContext context)
    {
        foreach (var position in positionIds)
            if ((uint)position >= (uint)Config.MaxPositions)
                throw new ArgumentOutOfRangeException(nameof(positionIds), $"GPT-2: position {position} exceeds n_positions {Config.MaxPositions}.");
        var x = tokens.Forward(input.Ids, input.Rows, input.Time) + positions.Forward(positionIds, input.Rows, input.Time);
        return finalNorm.Forward(Blocks(blocks, x, input, positionIds, context));
    }
}
