using Reins.Tensors;
using Reins.Models.Generation;
using Reins.Tensors.Nn;

namespace Reins.Models.Transformers;

/// <summary>
/// A decoder-only language model. Inputs are token ids [batch, time] with an optional attention mask
/// (1 = real token, 0 = padding; left or right padding both work).
/// </summary>
public abstract class CausalLanguageModel : Module
{
    /// <summary>The architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>Creates the model shell; subclasses register parameters.</summary>
    protected CausalLanguageModel(ModelConfig config) => Config = config.Validate();

    /// <summary>A randomly initialised model of the config's family.</summary>
    public static CausalLanguageModel Create(ModelConfig config, ulong seed) => config.Family switch
    {
        ModelFamily.Gpt2 => new Gpt2Model(config, new Rng(seed)),
        ModelFamily.Llama => new LlamaModel(config, new Rng(seed)),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.Family, "unknown model family"),
    };

    /// <summary>The final hidden states [batch, time, hidden] after the last norm, or [batch, lastPositions, hidden].</summary>
    /// <param name="ids">Token ids [batch·time].</param>
    /// <param name="batch">Rows.</param>
    /// <param name="time">Positions per row.</param>
    /// <param name="attentionMask">1 = real token, 0 = padding; empty = all real.</param>
    /// <param name="positions">Position ids; default cumsum(mask) − 1.</param>
    /// <param name="documentIds">For packed rows: each token's document, so attention stays within documents.</param>
    /// <param name="lastPositions">
    /// When 1..time−1, only each row's last this many positions are returned (transformers' <c>logits_to_keep</c>,
    /// applied one block earlier): the last block's attention output, MLP and final norm run on those positions alone,
    /// which is all a completion's log-probs, a critic's values or a reward model's score read. 0 = every position.
    /// </param>
    public Tensor Hidden(ReadOnlySpan<int> ids, int batch, int time, ReadOnlySpan<float> attentionMask = default, int[]? positions = null, int[]? documentIds = null, int lastPositions = 0)
    {
        CheckInputs(ids, batch, time, attentionMask, positions);
        if (lastPositions < 0 || lastPositions > time)
            throw new ArgumentOutOfRangeException(nameof(lastPositions), $"{Config.Architecture}: {lastPositions} last positions of {time}.");
        int keep = lastPositions == 0 ? time : lastPositions;
        if (keep < time && documentIds is not null)
            throw new ArgumentException($"{Config.Architecture}: lastPositions cannot be combined with packed documents (documentIds).");
        return Forward(ids, batch, time, positions ?? PositionIds(attentionMask, batch, time), new AttentionContext(attentionMask, documentIds, null), keep);
    }

    /// <summary>What attention needs besides q, k, v: key padding, packed-document ids, or the KV cache when decoding.</summary>
    private protected readonly ref struct AttentionContext(ReadOnlySpan<float> mask, ReadOnlySpan<int> segments, KvCache? cache)
    {
        public ReadOnlySpan<float> Mask { get; } = mask;
        public ReadOnlySpan<int> Segments { get; } = segments;
        public KvCache? Cache { get; } = cache;
    }

    /// <summary>
    /// The blocks and final norm. Without a cache, attention runs over these <paramref name="time"/> positions
    /// under <paramref name="attentionMask"/>; with one, each layer appends its keys and values to the cache and
    /// attends over everything cached (the mask then lives in the cache). The result holds each row's last
    /// <paramref name="keep"/> positions: the last block narrows its queries and residual stream to them with
    /// <see cref="LastPositions"/>.
    /// </summary>
    private protected abstract Tensor Forward(ReadOnlySpan<int> ids, int batch, int time, int[] positions, in AttentionContext context, int keep);

    /// <summary>
    /// [batch, time, n] → its last <paramref name="keep"/> positions, for the last block when fewer are wanted. Keys
    /// and values stay whole; attention places the narrowed queries at the end of the key sequence.
    /// </summary>
    private protected static Tensor LastPositions(Tensor x, int keep) => keep == x.Dim(1) ? x : Ops.Slice(x, 1, x.Dim(1) - keep, keep);

    /// <summary>
    /// Incremental decoding: runs <paramref name="time"/> new tokens per row (mask [batch·time], empty = all real)
    /// through the model, appending to <paramref name="cache"/>, and returns the logits [batch, vocab] at each row's
    /// last new position. Inference only; use under <see cref="Tape.NoGrad"/> or a non-recording tape.
    /// </summary>
    public Tensor NextTokenLogits(ReadOnlySpan<int> ids, int batch, int time, KvCache cache, ReadOnlySpan<float> newMask = default)
    {
        CheckInputs(ids, batch, time, newMask, null);
        if (cache.Batch != batch) throw new ArgumentException($"{Config.Architecture}: cache holds {cache.Batch} rows, the input {batch}.");
        var positions = cache.BeginStep(time, newMask);
        var hidden = Forward(ids, batch, time, positions, new AttentionContext(default, default, cache), time);
        cache.EndStep(time);
        var last = new int[batch];
        for (int b = 0; b < batch; b++) last[b] = b * time + time - 1;
        var rows = time == 1 ? Ops.Reshape(hidden, batch, Config.HiddenSize) : Ops.Embedding(Ops.Reshape(hidden, batch * time, Config.HiddenSize), last, batch);
        return Ops.Linear(rows, LmHeadWeight, null, Ops.WeightLayout.OutIn);
    }

    /// <summary>Self-attention of one block, over this call's positions or through the KV cache.</summary>
    private protected static Tensor SelfAttention(int layer, Tensor q, Tensor k, Tensor v, int heads, int kvHeads, in AttentionContext context)
    {
        if (context.Cache is not { } cache) return Ops.Attention(q, k, v, heads, kvHeads, context.Mask, causal: true, context.Segments);
        cache.Write(layer, k, v);
        return cache.Attend(layer, q, q.Dim(1), heads, kvHeads);
    }

    /// <summary>
    /// Self-attention of one block from a fused q/k/v projection [B, T, 3·H·D] (GPT-2's c_attn), with queries at each
    /// row's last <paramref name="queries"/> positions. Training and scoring read the projection in place; decoding
    /// slices it for the cache.
    /// </summary>
    private protected static Tensor FusedSelfAttention(int layer, Tensor qkv, int heads, int queries, in AttentionContext context)
    {
        if (context.Cache is null) return Ops.Attention(qkv, heads, context.Mask, causal: true, context.Segments, queries);
        int c = qkv.Dim(2) / 3;
        return SelfAttention(layer, Ops.Slice(qkv, -1, 0, c), Ops.Slice(qkv, -1, c, c), Ops.Slice(qkv, -1, 2 * c, c), heads, heads, context);
    }

    /// <summary>The matrix [vocab, hidden] that maps hidden states to logits (the embedding when tied).</summary>
    public abstract Tensor LmHeadWeight { get; }

    /// <summary>The <c>score.weight</c> [num_labels, hidden] of a …ForSequenceClassification model, else null.</summary>
    public Tensor? ScoreWeight { get; private set; }

    /// <summary>
    /// Sequence scores [batch, num_labels] read at each sequence's last real token, as transformers'
    /// …ForSequenceClassification does (reward models).
    /// </summary>
    public Tensor Scores(ReadOnlySpan<int> ids, int batch, int time, ReadOnlySpan<float> attentionMask = default)
    {
        CheckInputs(ids, batch, time, attentionMask, null);
        // The last block only needs the positions from the earliest of the rows' last tokens on.
        int keep = time - ValueHead.LastRealTokens(attentionMask, batch, time).Min();
        var hidden = Hidden(ids, batch, time, attentionMask, lastPositions: keep);
        return Ops.Linear(ValueHead.AtLastToken(hidden, attentionMask, time), RequireScore(), null, Ops.WeightLayout.OutIn);
    }

    /// <summary>Scores at every position [batch, time, num_labels], or at the last <paramref name="lastPositions"/> (PPO critics).</summary>
    public Tensor ScoresAllPositions(ReadOnlySpan<int> ids, int batch, int time, ReadOnlySpan<float> attentionMask = default, int lastPositions = 0) =>
        Ops.Linear(Hidden(ids, batch, time, attentionMask, lastPositions: lastPositions), RequireScore(), null, Ops.WeightLayout.OutIn);

    private Tensor RequireScore() => ScoreWeight ?? throw new InvalidOperationException($"{Config.Architecture} has no score head (num_labels is not set).");

    private protected InvalidOperationException NoLmHead() => new($"{Config.Architecture} has no language-model head.");

    private protected void RegisterScoreHead(Rng rng)
    {
        if (Config.NumLabels is { } labels) ScoreWeight = Register("score.weight", Normal(rng, Config.InitializerRange, labels, Config.HiddenSize));
    }

    /// <summary>Next-token logits [batch, time, vocab].</summary>
    public Tensor Logits(ReadOnlySpan<int> ids, int batch, int time, ReadOnlySpan<float> attentionMask = default, int[]? positions = null, int[]? documentIds = null) =>
        Ops.Linear(Hidden(ids, batch, time, attentionMask, positions, documentIds), LmHeadWeight, null, Ops.WeightLayout.OutIn);

    /// <summary>Mean next-token cross-entropy; <paramref name="targets"/> holds one id per position, −100 where ignored.</summary>
    public Tensor Loss(ReadOnlySpan<int> ids, ReadOnlySpan<int> targets, int batch, int time, ReadOnlySpan<float> attentionMask = default)
    {
        var logits = Logits(ids, batch, time, attentionMask);
        return Ops.CrossEntropy(Ops.Reshape(logits, batch * time, Config.VocabSize), targets);
    }

    /// <summary>
    /// Position ids from an attention mask: cumsum(mask) − 1, with padding positions at 0, so a left-padded
    /// sequence's first real token sits at position 0 as it would unpadded.
    /// </summary>
    public static int[] PositionIds(ReadOnlySpan<float> attentionMask, int batch, int time, int start = 0)
    {
        var pos = new int[batch * time];
        for (int b = 0; b < batch; b++)
        {
            int count = start;
            for (int t = 0; t < time; t++)
            {
                bool real = attentionMask.IsEmpty || attentionMask[b * time + t] != 0;
                pos[b * time + t] = real ? count++ : 0;
            }
        }
        return pos;
    }

    private protected void CheckInputs(ReadOnlySpan<int> ids, int batch, int time, ReadOnlySpan<float> attentionMask, int[]? positions)
    {
        if (ids.Length != batch * time)
            throw new ArgumentException($"{GetType().Name}: {ids.Length} token ids do not fill [batch {batch}, time {time}].");
        if (!attentionMask.IsEmpty && attentionMask.Length != batch * time)
            throw new ArgumentException($"{GetType().Name}: attention mask has {attentionMask.Length} entries, expected {batch * time}.");
        if (positions is not null && positions.Length != batch * time)
            throw new ArgumentException($"{GetType().Name}: {positions.Length} position ids, expected {batch * time}.");
    }

    private protected Tensor Normal(Rng rng, float std, params int[] shape) => Tensor.Normal(rng, 0, std, shape);
}
