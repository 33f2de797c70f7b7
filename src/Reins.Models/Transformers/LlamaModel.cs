using Reins.Tensors;
using Reins.Tensors.Nn;

namespace Reins.Models.Transformers;

/// <summary>
/// The Llama family (Llama 2/3, Qwen2, Mistral, SmolLM) with Hugging Face's names: pre-norm blocks of RMSNorm,
/// grouped-query attention with rotary positions ("rotate half") and optional q/k/v (and o) biases, and a SwiGLU MLP;
/// a final RMSNorm and an LM head, tied to the embedding or not.
/// </summary>
public sealed class LlamaModel : CausalLanguageModel
{
    private readonly Embedding tokens;
    private readonly TransformerBlock[] blocks;
    private readonly RmsNorm finalNorm;

    /// <summary>Registers parameters with N(0, initializer_range) weights, zero biases and unit norms.</summary>
    public LlamaModel(ModelConfig config, Rng rng, CausalLanguageModel? sharedWeights = null) : base(config, sharedWeights)
    {
        if (config.Family != ModelFamily.Llama) throw new ArgumentException("LlamaModel needs a Llama family config.");
        int c = config.HiddenSize;
        float std = config.InitializerRange;
        Tensor Normal(int[] shape, float s) => Tensor.Normal(rng, 0, s, shape);
        var (cos, sin) = RotaryTables(config.HeadDim, config.MaxPositions, config.RopeTheta, config.RopeScaling);
        var p = Builder.Push("model");
        tokens = new Embedding(p.Push("embed_tokens"), [config.VocabSize, c], shape => Normal(shape, std));
        blocks = new TransformerBlock[config.Layers];
        for (int i = 0; i < config.Layers; i++)
        {
            var layer = p.Push($"layers.{i}");
            blocks[i] = new TransformerBlock(
                new RmsNorm(layer.Push("input_layernorm"), c, config.NormEps), new GroupedQueryAttention(layer.Push("self_attn"), i, config, Normal, cos, sin),
                new RmsNorm(layer.Push("post_attention_layernorm"), c, config.NormEps), new SwiGluMlp(layer.Push("mlp"), c, config.IntermediateSize, Normal, std));
        }
        finalNorm = new RmsNorm(p.Push("norm"), c, config.NormEps);
        AddHeads(tokens.Weight, Normal);
    }

    /// <summary>
    /// cos/sin of position·θ_i with θ_i = base^(−2i/D), shape [positions, D/2], computed in float32 as
    /// Hugging Face does so angles at long positions round the same way; <paramref name="scaling"/> rescales θ_i.
    /// </summary>
    public static (Tensor Cos, Tensor Sin) RotaryTables(int headDim, int positions, float theta, RopeScaling? scaling = null)
    {
        int half = headDim / 2;
        var invFreq = new float[half];
        for (int i = 0; i < half; i++) invFreq[i] = 1f / MathF.Pow(theta, 2f * i / headDim);
        scaling?.Apply(invFreq);
        var c = new float[positions * half];
        var s = new float[positions * half];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < half; i++)
            {
                float angle = p * invFreq[i];
                c[p * half + i] = MathF.Cos(angle);
                s[p * half + i] = MathF.Sin(angle);
            }
        return (Tensor.FromArray(c, positions, half).Persist(), Tensor.FromArray(s, positions, half).Persist());
    }

    private protected override Tensor Forward(ModelInput input, int[] positionIds, in AttentionContext context)
    {
        var x = tokens.Forward(input.Ids, input.Rows, input.Time);
        return finalNorm.Forward(Blocks(blocks, x, input, positionIds, context));
    }
}
