using Reins.Feedback.Batching;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.Scoring;
using Reins.Tensors;

namespace Reins.Rewards.RewardModels;

/// <summary>
/// A reward model: a Hugging Face …ForSequenceClassification network (a decoder whose <c>score</c> head reads the
/// last real token, InstructGPT's "final unembedding layer removed" and replaced by a linear head), the names of its
/// outputs, and the normalisation statistics saved with it. One output is a Bradley–Terry reward; several are the
/// attributes of a regression model, combined into one reward with weights chosen at scoring time.
/// </summary>
public sealed class RewardModel
{
    /// <summary>Wraps <paramref name="network"/>; labels default to the statistics' labels, else "reward" or LABEL_i.</summary>
    public RewardModel(CausalLanguageModel network, IReadOnlyList<string>? labels = null, RewardNormalization? normalization = null)
    {
        if (network.Config.NumLabels is not { } k)
            throw new ArgumentException($"reward model: {network.Config.Architecture} has no score head (config.json sets no num_labels).", nameof(network));
        if (network.Config.TokenClassification)
            throw new ArgumentException($"reward model: {network.Config.Architecture} is a process reward model, which scores steps; use it with reins prm score or --prm.", nameof(network));
        Labels = labels ?? normalization?.Labels ?? DefaultLabels(k);
        if (Labels.Count != k) throw new ArgumentException($"reward model: {Labels.Count} labels for a head of {k} outputs.", nameof(labels));
        if (normalization is not null && !normalization.Labels.SequenceEqual(Labels))
            throw new ArgumentException($"reward model: normalisation statistics are for ({string.Join(", ", normalization.Labels)}), the model outputs ({string.Join(", ", Labels)}).", nameof(normalization));
        Network = network;
        Normalization = normalization;
    }

    /// <summary>The …ForSequenceClassification network.</summary>
    public CausalLanguageModel Network { get; }

    /// <summary>Output names, one per score-head row.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Statistics saved with the model, or null.</summary>
    public RewardNormalization? Normalization { get; }

    /// <summary>Longest sequence the network takes (its position table).</summary>
    public int MaxLength => Network.Config.MaxPositions;

    /// <summary>The label of a cost model's one output (Safe RLHF: above 0 means unsafe); a model saved with it is read as a cost model.</summary>
    public const string CostLabel = "cost";

    /// <summary>Whether this is a cost model, whose raw scores are costs (never standardised: their zero means safe).</summary>
    public bool IsCostModel => Labels is [CostLabel];

    /// <summary>The label names of a head with <paramref name="count"/> outputs when nothing names them.</summary>
    public static IReadOnlyList<string> DefaultLabels(int count) => count == 1 ? ["reward"] : [.. Enumerable.Range(0, count).Select(i => $"LABEL_{i}")];

    /// <summary>
    /// The tokenizer saved in <paramref name="directory"/> with this model, refused when it has ids the network has no
    /// embedding for (as <see cref="HfCheckpoint.LoadWithTokenizer"/> refuses a policy's).
    /// </summary>
    public Tokenizer TokenizerFrom(string directory) => Tokenizer.Load(directory).Fitting(Network.Config.VocabSize, directory);

    /// <summary>
    /// Loads a checkpoint directory and the <see cref="RewardNormalization.FileName"/> beside it (if any); the weights
    /// <paramref name="heldAsBf16"/> accepts are read as bf16 only and frozen (a run's frozen reward model under bf16).
    /// </summary>
    public static RewardModel Load(string directory, Func<string, bool>? heldAsBf16 = null)
    {
        if (PreferenceModels.GeneralPreferenceModel.IsPreferenceModel(directory) || PreferenceModels.PairPreferenceModel.IsPairModel(directory))
            throw new InvalidDataException($"{directory}: a preference model scores pairs, not single responses; use it with reins rm score --pairs or --preference-model.");
        if (GatedRewardModel.IsGated(directory))
            throw new InvalidDataException($"{directory}: a gated reward model (ArmoRM) combines its attributes by a prompt-dependent gate; load it as GatedRewardModel (--reward-model takes it).");
        if (UserConditionedReward.IsUserConditioned(directory))
            throw new InvalidDataException($"{directory}: a user-conditioned reward model scores for a user, given their labelled pairs (UserConditionedReward), not on its own.");
        return LoadNetwork(directory, heldAsBf16);
    }

    /// <summary>The …ForSequenceClassification network in <paramref name="directory"/> with its statistics, whatever reads its outputs.</summary>
    public static RewardModel LoadNetwork(string directory, Func<string, bool>? heldAsBf16 = null)
    {
        var network = HfCheckpoint.Load(directory, heldAsBf16);
        if (network.Config.NumLabels is null || network.Config.TokenClassification)
            throw new InvalidDataException($"{directory}: {network.Config.Architecture} is not a reward model (…ForSequenceClassification with num_labels).");
        return new RewardModel(network, normalization: RewardNormalization.Load(directory));
    }

    /// <summary>Scores [rows, num_labels] of padded rows, read at each row's last real token (differentiable).</summary>
    public static Tensor Scores(CausalLanguageModel network, TokenBatch tokens) =>
        network.Scores(tokens.Input);

    /// <summary>
    /// Rewards [pairs] of the chosen and the rejected sequences of a preference batch, from one forward pass over both
    /// (TRL's concatenated forward) of a single-output model.
    /// </summary>
    public static (Tensor Chosen, Tensor Rejected) PairRewards(CausalLanguageModel network, PreferenceBatch batch)
    {
        if (network.Config.NumLabels != 1) throw new ArgumentException($"reward model: pairwise rewards need a head of one output, not {network.Config.NumLabels}.", nameof(network));
        var scores = Ops.Reshape(Scores(network, batch.Tokens), 2 * batch.Pairs);
        return (Ops.Narrow0(scores, 0, batch.Pairs), Ops.Narrow0(scores, batch.Pairs, batch.Pairs));
    }

    /// <summary>
    /// Raw scores [sequence, label] in input order, without gradients. Sequences are batched by length so rows of a
    /// batch need little padding; each must fit <see cref="MaxLength"/>.
    /// </summary>
    public float[] RawScores(IReadOnlyList<TokenizedSequence> sequences, int batchSize, CancellationToken cancellation = default)
    {
        int k = Labels.Count;
        var scores = new float[sequences.Count * k];
        foreach (var (rows, batch) in LengthBatches.Of(sequences, batchSize, Network.Config.PadTokenId ?? 0, cancellation, MaxLength, "reward model"))
        {
            using var tape = new Tape(recordGradients: false);
            var values = Scores(Network, batch).Span;
            for (int r = 0; r < rows.Length; r++) values.Slice(r * k, k).CopyTo(scores.AsSpan(rows[r] * k, k));
        }
        return scores;
    }

    /// <summary>
    /// One reward per sequence: the raw scores, standardised when <see cref="RewardScoringOptions.Normalize"/> is set and
    /// the model has statistics, combined with the attribute weights (or by the options' minimum over the outputs); the
    /// details hold every output of a multi-output model.
    /// </summary>
    public SequenceScores Score(IReadOnlyList<TokenizedSequence> sequences, RewardScoringOptions options, CancellationToken cancellation = default)
    {
        var weights = AttributeWeights.Resolve(Labels, options.Validate().Weights);
        var scores = RawScores(sequences, options.BatchSize, cancellation);
        if (options.Normalize && Normalization is not null) scores = Normalization.Normalize(scores);
        int k = Labels.Count;
        var details = new Dictionary<string, float[]>();
        if (k > 1)
            for (int j = 0; j < k; j++) details[Labels[j]] = [.. Enumerable.Range(0, sequences.Count).Select(i => scores[i * k + j])];
        return new SequenceScores(options.Aggregation.Apply(scores, weights), details);
    }
}
