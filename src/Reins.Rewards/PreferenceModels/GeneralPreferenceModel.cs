using Reins.Feedback.Batching;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Tensors;

namespace Reins.Rewards.PreferenceModels;

/// <summary>
/// A general preference model (GPM; Zhang et al. 2024, "General Preference Modeling with Preference Representations"):
/// a bias-free value head maps each response to a 2k-dimensional vector, L2-normalised to v, and
/// P(y₁ ≻ y₂ | x) = σ(s(y₁, y₂)/τ) with s(y₁, y₂) = ⟨R(x) v₁, v₂⟩ = Σᵢ λᵢ(x)·(v₁[2i]·v₂[2i+1] − v₁[2i+1]·v₂[2i]), R
/// block-diagonal and skew-symmetric. So s(y₁, y₂) = −s(y₂, y₁) and the two probabilities sum to 1 by construction,
/// and three responses at 120° in one block prefer each other in a cycle, which no scalar reward can express. The
/// eigenvalues λ are 1, or k·softmax of a prompt head read at the prompt's last token (1 each when the gates agree).
/// <para>
/// Centring: on a balanced cycle the collapsed solution (every response the same v) is a stationary point, since each
/// response's pushes as winner and as loser cancel; a trunk whose hidden states share a large common direction starts
/// next to it and stays there. Subtracting the mean embedding before normalising removes that shared component: in
/// training the mean of the batch (gradients flow through it, so a shift common to every response changes nothing),
/// at inference the mean over training sequences saved in <see cref="RewardNormalization.FileName"/> beside the
/// weights, so a pair's probability never depends on what else is in its batch.
/// </para>
/// </summary>
public sealed class GeneralPreferenceModel
{
    private const float NormEpsilon = 1e-12f;

    /// <summary>Wraps a network whose score head has <see cref="GeneralPreferenceSettings.HeadOutputs"/> outputs.</summary>
    public GeneralPreferenceModel(CausalLanguageModel network, GeneralPreferenceSettings settings, float[]? center)
    {
        settings.Validate();
        if (network.Config.NumLabels != settings.HeadOutputs || network.Config.TokenClassification)
            throw new ArgumentException($"general preference model: {network.Config.Architecture} has {network.Config.NumLabels?.ToString() ?? "no"} score outputs; value_head_dim {settings.ValueHeadDim}{(settings.PromptHead ? " with a prompt head" : "")} needs {settings.HeadOutputs}.", nameof(network));
        if (settings.CenterEmbeddings && center?.Length != settings.ValueHeadDim)
            throw new ArgumentException($"general preference model: centred embeddings need a mean of {settings.ValueHeadDim} values, got {center?.Length.ToString() ?? "none"}.", nameof(center));
        Network = network;
        Settings = settings;
        Center = settings.CenterEmbeddings ? center : null;
    }

    /// <summary>The …ForSequenceClassification network.</summary>
    public CausalLanguageModel Network { get; }

    /// <summary>The head's layout and τ.</summary>
    public GeneralPreferenceSettings Settings { get; }

    /// <summary>The mean embedding subtracted before normalising, or null.</summary>
    public float[]? Center { get; }

    /// <summary>Longest sequence the network takes.</summary>
    public int MaxLength => Network.Config.MaxPositions;

    /// <summary>Whether <paramref name="directory"/> holds a preference model rather than a reward model.</summary>
    public static bool IsPreferenceModel(string directory) => File.Exists(Path.Combine(directory, GeneralPreferenceSettings.FileName));

    /// <summary>Loads a checkpoint saved by <c>reins rm --objective gpm</c>.</summary>
    public static GeneralPreferenceModel Load(string directory)
    {
        var settings = GeneralPreferenceSettings.Load(directory)
            ?? throw new InvalidDataException($"{directory}: no {GeneralPreferenceSettings.FileName}, so it is not a general preference model (train one with reins rm --objective gpm).");
        var network = HfCheckpoint.Load(directory);
        float[]? center = null;
        if (settings.CenterEmbeddings)
        {
            var statistics = RewardNormalization.Load(directory)
                ?? throw new InvalidDataException($"{directory}: center_embeddings is set but {RewardNormalization.FileName}, which holds the mean embedding, is missing.");
            if (!statistics.Labels.SequenceEqual(settings.Labels))
                throw new InvalidDataException($"{directory}: {RewardNormalization.FileName} is for ({string.Join(", ", statistics.Labels)}), the model outputs ({string.Join(", ", settings.Labels)}).");
            center = statistics.Mean[..settings.ValueHeadDim];
        }
        try { return new GeneralPreferenceModel(network, settings, center); }
        catch (ArgumentException e) { throw new InvalidDataException($"{directory}: {e.Message}"); }
    }

    /// <summary>The tokenizer saved with the model, refused when it has ids the network has no embedding for.</summary>
    public Tokenizer TokenizerFrom(string directory) => Tokenizer.Load(directory).Fitting(Network.Config.VocabSize, directory);

    /// <summary>
    /// Normalised embeddings v [rows, 2k] and, with a prompt head, eigenvalues λ [rows, k] of padded rows
    /// (differentiable). Prompts are the positions labelled −100 before a row's first labelled one; a row without labels
    /// reads its gates at its last token. <paramref name="center"/> [2k] is subtracted before normalising; null centres
    /// on the batch mean when the settings ask for centring.
    /// </summary>
    public static (Tensor Vectors, Tensor? Eigenvalues) Embed(CausalLanguageModel network, TokenBatch tokens, GeneralPreferenceSettings settings, float[]? center)
    {
        int dim = settings.ValueHeadDim;
        var hidden = network.Hidden(tokens.Input);
        var head = Ops.Linear(CausalLanguageModel.AtLastToken(hidden, tokens.AttentionMask, tokens.Length), network.ScoreWeight!, null, Ops.WeightLayout.OutIn);
        var v = Vectors(settings.PromptHead ? Ops.Slice(head, 1, 0, dim) : head, settings.CenterEmbeddings, center);
        if (!settings.PromptHead) return (v, null);
        var promptEnds = CausalLanguageModel.AtPositions(hidden, [.. Enumerable.Range(0, tokens.Rows).Select(tokens.PromptEndIndex)], tokens.Length);
        return (v, Eigenvalues(Ops.Linear(promptEnds, Ops.Narrow0(network.ScoreWeight!, dim, settings.Blocks), null, Ops.WeightLayout.OutIn)));
    }

    /// <summary>
    /// The value head's outputs u [rows, 2k] made preference embeddings: centred (on <paramref name="center"/>, or the
    /// rows' mean when it is null) when <paramref name="centered"/>, then L2-normalised.
    /// </summary>
    public static Tensor Vectors(Tensor u, bool centered, float[]? center)
    {
        if (centered) u = center is null ? Ops.Sub(u, Ops.Mean(u, 0, keepDim: true)) : Ops.Sub(u, Tensor.FromArray(center, 1, u.Dim(1)));
        return Ops.Div(u, Ops.Sqrt(Ops.AddScalar(Ops.Sum(Ops.Mul(u, u), 1, keepDim: true), NormEpsilon)));
    }

    /// <summary>The operator's eigenvalues λ = k·softmax(g) [rows, k] of the prompt head's outputs g [rows, k].</summary>
    public static Tensor Eigenvalues(Tensor gates) => Ops.MulScalar(Ops.Softmax(gates), gates.Dim(1));

    /// <summary>
    /// s(first, second) [pairs] of normalised embeddings [pairs, 2k], with eigenvalues [pairs, k] or all 1 (differentiable).
    /// </summary>
    public static Tensor SkewScores(Tensor first, Tensor second, Tensor? eigenvalues)
    {
        int pairs = first.Dim(0), dim = first.Dim(1), blocks = dim / 2;
        // Rows of first·Rᵀ are (R v₁)ᵀ: R[2i, 2i+1] = −1 and R[2i+1, 2i] = 1, as in the paper's code.
        var r = new float[dim * dim];
        for (int i = 0; i < blocks; i++) (r[2 * i * dim + 2 * i + 1], r[(2 * i + 1) * dim + 2 * i]) = (-1, 1);
        var products = Ops.Mul(Ops.MatMul(first, Tensor.FromArray(r, dim, dim), transB: true), second);
        if (eigenvalues is not null)
        {
            var expand = new float[blocks * dim];
            for (int i = 0; i < blocks; i++) expand[i * dim + 2 * i] = expand[i * dim + 2 * i + 1] = 1;
            products = Ops.Mul(products, Ops.MatMul(eigenvalues, Tensor.FromArray(expand, blocks, dim)));
        }
        return Ops.Reshape(Ops.Sum(products, 1), pairs);
    }

    /// <summary>s(a, b) of two embeddings with eigenvalues λ (empty: all 1).</summary>
    public static float SkewScore(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> eigenvalues)
    {
        if (a.Length != b.Length || a.Length % 2 != 0) throw new ArgumentException($"general preference model: embeddings of {a.Length} and {b.Length} values.");
        double s = 0;
        for (int i = 0; i < a.Length / 2; i++)
            s += (eigenvalues.IsEmpty ? 1 : eigenvalues[i]) * ((double)a[2 * i] * b[2 * i + 1] - (double)a[2 * i + 1] * b[2 * i]);
        return (float)s;
    }

    /// <summary>
    /// Embeddings v [sequence, 2k] and eigenvalues [sequence, k] (empty without a prompt head) in input order, without
    /// gradients, centred on the saved mean; sequences are batched by length.
    /// </summary>
    public (float[] Vectors, float[] Eigenvalues) Embeddings(IReadOnlyList<TokenizedSequence> sequences, int batchSize, CancellationToken cancellation = default)
    {
        int dim = Settings.ValueHeadDim, blocks = Settings.PromptHead ? Settings.Blocks : 0;
        var vectors = new float[sequences.Count * dim];
        var eigenvalues = new float[sequences.Count * blocks];
        foreach (var (rows, batch) in LengthBatches.Of(sequences, batchSize, Network.Config.PadTokenId ?? 0, cancellation, MaxLength, "general preference model"))
        {
            using var tape = new Tape(recordGradients: false);
            var (v, lambda) = Embed(Network, batch, Settings, Center);
            for (int r = 0; r < rows.Length; r++)
            {
                v.Span.Slice(r * dim, dim).CopyTo(vectors.AsSpan(rows[r] * dim, dim));
                lambda?.Span.Slice(r * blocks, blocks).CopyTo(eigenvalues.AsSpan(rows[r] * blocks, blocks));
            }
        }
        return (vectors, eigenvalues);
    }

    /// <summary>
    /// P(first ≻ second) of each pair; the operator's eigenvalues come from the first response's prompt (the pair's
    /// shared prompt).
    /// </summary>
    public float[] Probabilities(IReadOnlyList<TokenizedPair> pairs, int batchSize, CancellationToken cancellation = default) =>
        [.. PairScores(pairs, batchSize, cancellation).Select(Sigmoid)];

    /// <summary>s(first, second)/τ of each pair, the logit of <see cref="Probabilities"/>.</summary>
    public float[] PairScores(IReadOnlyList<TokenizedPair> pairs, int batchSize, CancellationToken cancellation = default)
    {
        var (v, lambda) = Embeddings([.. pairs.Select(p => p.Chosen), .. pairs.Select(p => p.Rejected)], batchSize, cancellation);
        int n = pairs.Count, dim = Settings.ValueHeadDim, blocks = Settings.PromptHead ? Settings.Blocks : 0;
        return [.. Enumerable.Range(0, n).Select(i => SkewScore(v.AsSpan(i * dim, dim), v.AsSpan((n + i) * dim, dim), lambda.AsSpan(i * blocks, blocks)) / Settings.Tau)];
    }

    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

}
