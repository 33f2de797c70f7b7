using Reins.Models.Generation;
using Reins.Tensors;

namespace Reins.Models.Transformers;

/// <summary>
/// The Llama family (Llama 2/3, Qwen2, Mistral, SmolLM) with Hugging Face's names: RMSNorm pre-norm blocks,
/// rotary positions ("rotate half"), grouped-query attention, SwiGLU MLP, optional q/k/v (and o) biases.
/// </summary>
public sealed class LlamaModel : CausalLanguageModel
{
    private readonly Tensor embed, norm;
    private readonly Tensor? lmHead;
    private readonly Block[] blocks;
    private readonly Tensor cos, sin;

    private sealed record Block(Tensor InputNorm, Tensor Q, Tensor? QBias, Tensor K, Tensor? KBias, Tensor V, Tensor? VBias,
        Tensor O, Tensor? OBias, Tensor PostNorm, Tensor Gate, Tensor Up, Tensor Down);

    /// <summary>Registers parameters with N(0, initializer_range) weights, zero biases and unit norms.</summary>
    public LlamaModel(ModelConfig config, Rng rng) : base(config)
    {
        if (config.Family != ModelFamily.Llama) throw new ArgumentException("LlamaModel needs a Llama family config.");
        int c = config.HiddenSize, d = config.HeadDim, f = config.IntermediateSize, qw = config.Heads * d, kvw = config.KvHeads * d;
        float std = config.InitializerRange;
        embed = Register("model.embed_tokens.weight", Normal(rng, std, config.VocabSize, c));
        blocks = new Block[config.Layers];
        for (int i = 0; i < config.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            Tensor? Bias(string name, int n, bool present) => present ? Register(p + name, Tensor.Zeros(n)) : null;
            blocks[i] = new Block(
                Register(p + "input_layernorm.weight", Tensor.Full(1, c)),
                Register(p + "self_attn.q_proj.weight", Normal(rng, std, qw, c)), Bias("self_attn.q_proj.bias", qw, config.QkvBias),
                Register(p + "self_attn.k_proj.weight", Normal(rng, std, kvw, c)), Bias("self_attn.k_proj.bias", kvw, config.QkvBias),
                Register(p + "self_attn.v_proj.weight", Normal(rng, std, kvw, c)), Bias("self_attn.v_proj.bias", kvw, config.QkvBias),
                Register(p + "self_attn.o_proj.weight", Normal(rng, std, c, qw)), Bias("self_attn.o_proj.bias", c, config.OutputBias),
                Register(p + "post_attention_layernorm.weight", Tensor.Full(1, c)),
                Register(p + "mlp.gate_proj.weight", Normal(rng, std, f, c)),
                Register(p + "mlp.up_proj.weight", Normal(rng, std, f, c)),
                Register(p + "mlp.down_proj.weight", Normal(rng, std, c, f)));
        }
        norm = Register("model.norm.weight", Tensor.Full(1, c));
        if (!config.TieWordEmbeddings && config.NumLabels is null) lmHead = Register("lm_head.weight", Normal(rng, std, config.VocabSize, c));
        RegisterScoreHead(rng);
        (cos, sin) = RotaryTables(config.HeadDim, config.MaxPositions, config.RopeTheta, config.RopeScaling);
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

    /// <inheritdoc/>
    public override Tensor LmHeadWeight => lmHead ?? (Config.NumLabels is null ? embed : throw NoLmHead());

    private protected override Tensor Forward(ReadOnlySpan<int> ids, int batch, int time, int[] positions, in AttentionContext context, int keep)
    {
        int h = Config.Heads, kvh = Config.KvHeads;
        var x = Ops.Embedding(embed, ids, batch, time);
        for (int l = 0; l < blocks.Length; l++)
        {
            var blk = blocks[l];
            var a = Ops.RmsNorm(x, blk.InputNorm, Config.NormEps);
            var q = Ops.Rotary(Ops.Linear(a, blk.Q, blk.QBias, Ops.WeightLayout.OutIn), h, positions, cos, sin);
            var k = Ops.Rotary(Ops.Linear(a, blk.K, blk.KBias, Ops.WeightLayout.OutIn), kvh, positions, cos, sin);
            var v = Ops.Linear(a, blk.V, blk.VBias, Ops.WeightLayout.OutIn);
            if (l == blocks.Length - 1) (q, x) = (LastPositions(q, keep), LastPositions(x, keep));
            var y = SelfAttention(l, q, k, v, h, kvh, context);
            (x, var m) = Ops.ResidualRmsNorm(x, Ops.Linear(y, blk.O, blk.OBias, Ops.WeightLayout.OutIn), blk.PostNorm, Config.NormEps);
            var gate = Ops.Silu(Ops.Linear(m, blk.Gate, null, Ops.WeightLayout.OutIn));
            x = x + Ops.Linear(gate * Ops.Linear(m, blk.Up, null, Ops.WeightLayout.OutIn), blk.Down, null, Ops.WeightLayout.OutIn);
        }
        return Ops.RmsNorm(x, norm, Config.NormEps);
    }
}
