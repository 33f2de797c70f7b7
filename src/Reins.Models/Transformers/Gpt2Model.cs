using Reins.Models.Generation;
using Reins.Tensors;

namespace Reins.Models.Transformers;

/// <summary>
/// GPT-2 (Radford et al. 2019) with Hugging Face's parameter names and layouts: Conv1D weights are stored
/// [in, out], q/k/v come from one fused c_attn projection, pre-norm blocks, learned positions, tied LM head.
/// </summary>
public sealed class Gpt2Model : CausalLanguageModel
{
    private readonly Tensor wte, wpe, lnFw, lnFb;
    private readonly Tensor? lmHead;
    private readonly Block[] blocks;

    private sealed record Block(Tensor Ln1W, Tensor Ln1B, Tensor AttnW, Tensor AttnB, Tensor ProjW, Tensor ProjB,
        Tensor Ln2W, Tensor Ln2B, Tensor FcW, Tensor FcB, Tensor OutW, Tensor OutB);

    /// <summary>Registers parameters with GPT-2's initialisation (N(0, 0.02); residual projections scaled by 1/√(2L)).</summary>
    public Gpt2Model(ModelConfig config, Rng rng) : base(config)
    {
        if (config.Family != ModelFamily.Gpt2) throw new ArgumentException("Gpt2Model needs a GPT-2 family config.");
        int c = config.HiddenSize, f = config.IntermediateSize;
        float std = config.InitializerRange, residualStd = std / MathF.Sqrt(2 * config.Layers);
        wte = Register("transformer.wte.weight", Normal(rng, std, config.VocabSize, c));
        wpe = Register("transformer.wpe.weight", Normal(rng, std, config.MaxPositions, c));
        blocks = new Block[config.Layers];
        for (int i = 0; i < config.Layers; i++)
        {
            string p = $"transformer.h.{i}.";
            blocks[i] = new Block(
                Register(p + "ln_1.weight", Tensor.Full(1, c)), Register(p + "ln_1.bias", Tensor.Zeros(c)),
                Register(p + "attn.c_attn.weight", Normal(rng, std, c, 3 * c)), Register(p + "attn.c_attn.bias", Tensor.Zeros(3 * c)),
                Register(p + "attn.c_proj.weight", Normal(rng, residualStd, c, c)), Register(p + "attn.c_proj.bias", Tensor.Zeros(c)),
                Register(p + "ln_2.weight", Tensor.Full(1, c)), Register(p + "ln_2.bias", Tensor.Zeros(c)),
                Register(p + "mlp.c_fc.weight", Normal(rng, std, c, f)), Register(p + "mlp.c_fc.bias", Tensor.Zeros(f)),
                Register(p + "mlp.c_proj.weight", Normal(rng, residualStd, f, c)), Register(p + "mlp.c_proj.bias", Tensor.Zeros(c)));
        }
        lnFw = Register("transformer.ln_f.weight", Tensor.Full(1, c));
        lnFb = Register("transformer.ln_f.bias", Tensor.Zeros(c));
        if (!config.TieWordEmbeddings && config.NumLabels is null) lmHead = Register("lm_head.weight", Normal(rng, std, config.VocabSize, c));
        RegisterScoreHead(rng);
    }

    /// <inheritdoc/>
    public override Tensor LmHeadWeight => lmHead ?? (Config.NumLabels is null ? wte : throw NoLmHead());

    private protected override Tensor Forward(ReadOnlySpan<int> ids, int batch, int time, int[] positions, in AttentionContext context, int keep)
    {
        foreach (var p in positions)
            if ((uint)p >= (uint)Config.MaxPositions)
                throw new ArgumentOutOfRangeException(nameof(positions), $"GPT-2: position {p} exceeds n_positions {Config.MaxPositions}.");
        int h = Config.Heads;
        var x = Ops.Embedding(wte, ids, batch, time) + Ops.Embedding(wpe, positions, batch, time);
        for (int l = 0; l < blocks.Length; l++)
        {
            var blk = blocks[l];
            var a = Ops.LayerNorm(x, blk.Ln1W, blk.Ln1B, Config.NormEps);
            var qkv = Ops.Linear(a, blk.AttnW, blk.AttnB, Ops.WeightLayout.InOut);
            bool last = l == blocks.Length - 1;
            var y = FusedSelfAttention(l, qkv, h, last ? keep : time, context);
            if (last) x = LastPositions(x, keep);
            (x, var m) = Ops.ResidualLayerNorm(x, Ops.Linear(y, blk.ProjW, blk.ProjB, Ops.WeightLayout.InOut), blk.Ln2W, blk.Ln2B, Config.NormEps);
            var fc = Ops.Linear(m, blk.FcW, blk.FcB, Ops.WeightLayout.InOut);
            var act = Config.Activation == "gelu" ? Ops.GeluExact(fc) : Ops.GeluTanh(fc);
            x = x + Ops.Linear(act, blk.OutW, blk.OutB, Ops.WeightLayout.InOut);
        }
        return Ops.LayerNorm(x, lnFw, lnFb, Config.NormEps);
    }
}
