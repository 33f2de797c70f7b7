using Reins.Tensors;
using Reins.Tensors.Nn;

namespace Reins.Models.Transformers;

/// <summary>What attention needs besides q, k and v: key padding and packed-document ids, or the KV cache when decoding.</summary>
internal readonly ref struct AttentionContext(ReadOnlySpan<float> mask, ReadOnlySpan<int> segments, KvCache? cache, bool recompute = false)
{
    /// <summary>Whether training recomputes the attention probabilities in the backward pass instead of keeping them.</summary>
    public bool Recompute { get; } = recompute;
    /// <summary>The key padding mask of this call's positions (empty = all real); with a cache, the mask lives in the cache.</summary>
    public ReadOnlySpan<float> Mask { get; } = mask;
    /// <summary>Each position's document for packed rows (empty = one per row).</summary>
    public ReadOnlySpan<int> Segments { get; } = segments;
    /// <summary>The cache of a decoding step, or null.</summary>
    public KvCache? Cache { get; } = cache;
}

/// <summary>A block's causal self-attention with its output projection.</summary>
internal interface ISelfAttention
{
    /// <summary>
    /// Attention of the normalised residual stream <paramref name="x"/> [B, T, C] with queries at each row's last
    /// <paramref name="queries"/> positions, projected back: [B, queries, C]. With a cache, this call's keys and values
    /// are appended to it and the queries attend over everything cached.
    /// </summary>
    Tensor Forward(Tensor x, int[] positions, in AttentionContext context, int queries);
}

/// <summary>
/// GPT-2's attention (Radford et al. 2019), Hugging Face's layout: q, k and v from one fused Conv1D projection c_attn
/// [C, 3C], learned positions (so none here), output projection c_proj. Training and scoring read q, k and v in place
/// from the fused projection; decoding slices them for the cache.
/// </summary>
internal sealed class FusedQkvAttention(ParameterBuilder p, int layer, int hidden, int heads, Func<int[], float, Tensor> normal, float std, float residualStd)
    : ISelfAttention
{
    private readonly Linear qkv = new(p.Push("c_attn"), [hidden, 3 * hidden], shape => normal(shape, std), Tensor.Zeros(3 * hidden), Ops.WeightLayout.InOut);
    private readonly Linear output = new(p.Push("c_proj"), [hidden, hidden], shape => normal(shape, residualStd), Tensor.Zeros(hidden), Ops.WeightLayout.InOut);

    public Tensor Forward(Tensor x, int[] positions, in AttentionContext context, int queries)
    {
        var fused = qkv.Forward(x);
        Tensor y;
        if (context.Cache is not { } cache) y = Ops.Attention(fused, heads, context.Mask, causal: true, context.Segments, queries, context.Recompute);
        else
        {
            int c = fused.Dim(2) / 3;
            var q = Ops.Slice(fused, -1, 0, c);
            cache.Write(layer, Ops.Slice(fused, -1, c, c), Ops.Slice(fused, -1, 2 * c, c));
            y = cache.Attend(layer, q, q.Dim(1), heads, heads);
        }
        return output.Forward(y);
    }
}

/// <summary>
/// The Llama family's attention: separate q, k and v projections (optionally with biases, as Qwen2), rotary position
/// embedding ("rotate half") on q and k, grouped-query attention (kv heads shared by groups of query heads), o_proj.
/// </summary>
internal sealed class GroupedQueryAttention : ISelfAttention
{
    private readonly int layer, heads, kvHeads;
    private readonly Linear q, k, v, o;
    private readonly Tensor cos, sin;

    public GroupedQueryAttention(ParameterBuilder p, int layer, ModelConfig config, Func<int[], float, Tensor> normal, Tensor cos, Tensor sin)
    {
        (this.layer, heads, kvHeads, this.cos, this.sin) = (layer, config.Heads, config.KvHeads, cos, sin);
        int c = config.HiddenSize, qw = config.Heads * config.HeadDim, kvw = config.KvHeads * config.HeadDim;
        float std = config.InitializerRange;
        Tensor? Bias(int n, bool present) => present ? Tensor.Zeros(n) : null;
        q = new Linear(p.Push("q_proj"), [qw, c], shape => normal(shape, std), Bias(qw, config.QkvBias), Ops.WeightLayout.OutIn);
        k = new Linear(p.Push("k_proj"), [kvw, c], shape => normal(shape, std), Bias(kvw, config.QkvBias), Ops.WeightLayout.OutIn);
        v = new Linear(p.Push("v_proj"), [kvw, c], shape => normal(shape, std), Bias(kvw, config.QkvBias), Ops.WeightLayout.OutIn);
        o = new Linear(p.Push("o_proj"), [c, qw], shape => normal(shape, std), Bias(c, config.OutputBias), Ops.WeightLayout.OutIn);
    }

    public Tensor Forward(Tensor x, int[] positions, in AttentionContext context, int queries)
    {
        var queryStates = Ops.Rotary(q.Forward(x), heads, positions, cos, sin);
        var keyStates = Ops.Rotary(k.Forward(x), kvHeads, positions, cos, sin);
        var valueStates = v.Forward(x);
        queryStates = TransformerBlock.LastPositions(queryStates, queries);
        Tensor y;
        if (context.Cache is not { } cache) y = Ops.Attention(queryStates, keyStates, valueStates, heads, kvHeads, context.Mask, causal: true, context.Segments, context.Recompute);
        else
        {
            cache.Write(layer, keyStates, valueStates);
            y = cache.Attend(layer, queryStates, queryStates.Dim(1), heads, kvHeads);
        }
        return o.Forward(y);
    }
}
