using Reins.Tensors;
using Reins.Tensors.Nn;

namespace Reins.Models.Transformers;

/// <summary>A block's position-wise feed-forward network.</summary>
internal interface IFeedForward
{
    /// <summary>[.., C] → [.., C].</summary>
    Tensor Forward(Tensor x);
}

/// <summary>GPT-2's MLP: c_fc [C, 4C], GELU (tanh approximation, or exact), c_proj [4C, C], Conv1D layout.</summary>
internal sealed class GeluMlp(ParameterBuilder p, int hidden, int intermediate, bool exactGelu, Func<int[], float, Tensor> normal, float std, float residualStd) : IFeedForward
{
    private readonly Linear up = new(p.Push("c_fc"), [hidden, intermediate], shape => normal(shape, std), Tensor.Zeros(intermediate), Ops.WeightLayout.InOut);
    private readonly Linear down = new(p.Push("c_proj"), [intermediate, hidden], shape => normal(shape, residualStd), Tensor.Zeros(hidden), Ops.WeightLayout.InOut);

    public Tensor Forward(Tensor x)
    {
        var fc = up.Forward(x);
        return down.Forward(exactGelu ? Ops.GeluExact(fc) : Ops.GeluTanh(fc));
    }
}

/// <summary>The Llama family's SwiGLU MLP (Shazeer 2020): down(silu(gate(x)) ⊙ up(x)), no biases.</summary>
internal sealed class SwiGluMlp(ParameterBuilder p, int hidden, int intermediate, Func<int[], float, Tensor> normal, float std) : IFeedForward
{
    private readonly Linear gate = new(p.Push("gate_proj"), [intermediate, hidden], shape => normal(shape, std), null, Ops.WeightLayout.OutIn);
    private readonly Linear up = new(p.Push("up_proj"), [intermediate, hidden], shape => normal(shape, std), null, Ops.WeightLayout.OutIn);
    private readonly Linear down = new(p.Push("down_proj"), [hidden, intermediate], shape => normal(shape, std), null, Ops.WeightLayout.OutIn);

    public Tensor Forward(Tensor x)
    {
        var activated = Ops.Silu(gate.Forward(x));
        return down.Forward(activated * up.Forward(x));
    }
}

/// <summary>
/// A pre-norm transformer block, the shape GPT-2 and the Llama family share: x + attention(norm(x)), then
/// x + mlp(norm(x)) with the residual addition and the second norm fused.
/// </summary>
internal sealed class TransformerBlock(INorm attentionNorm, ISelfAttention attention, INorm mlpNorm, IFeedForward mlp)
{
    /// <summary>
    /// The block on the residual stream <paramref name="x"/> [B, T, C], its output narrowed to each row's last
    /// <paramref name="keep"/> positions (the last block, when fewer are read): keys and values still come from all T.
    /// </summary>
    public Tensor Forward(Tensor x, int[] positions, in AttentionContext context, int keep)
    {
        var y = attention.Forward(attentionNorm.Forward(x), positions, context, keep);
        (x, var m) = mlpNorm.AddAndNormalize(LastPositions(x, keep), y);
        return x + mlp.Forward(m);
    }

    /// <summary>[B, T, n] → its last <paramref name="keep"/> positions; attention places such queries at the end of the key sequence.</summary>
    public static Tensor LastPositions(Tensor x, int keep) => keep == x.Dim(1) ? x : Ops.Slice(x, 1, x.Dim(1) - keep, keep);
}
