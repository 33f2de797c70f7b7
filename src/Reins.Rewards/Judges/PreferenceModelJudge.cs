using Reins.Feedback.Tokenization;
using Reins.Rewards.PreferenceModels;
using Reins.Rewards.Scoring;
using Reins.Rewards.Sources;

namespace Reins.Rewards.Judges;

/// <summary>
/// A general preference model as a judge: P(first ≻ second) of each pair, a soft label that already sums to 1 with the
/// swapped order's, so no second call in the other order is needed. Completions are re-encoded with the model's own
/// tokenizer, prompt then completion as its training built them, EOS only after one that finished.
/// </summary>
public sealed class PreferenceModelJudge(GeneralPreferenceModel model, ITextEncoder encoder, int batchSize = 16, string name = "preference_model") : IPreferenceScoreJudge
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <summary>The preference model saved in <paramref name="directory"/> with its tokenizer.</summary>
    public static PreferenceModelJudge Load(string directory, int batchSize = 16)
    {
        var model = GeneralPreferenceModel.Load(directory);
        return new PreferenceModelJudge(model, new TokenizerEncoder(model.TokenizerFrom(directory)), batchSize);
    }

    /// <inheritdoc/>
    public float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default) =>
        [.. PreferenceScores(pairs, cancellation).Select(s => 1f / (1f + MathF.Exp(-s)))];

    /// <summary>s(first, second)/τ of each pair, the logit of <see cref="Judge"/>'s probability.</summary>
    public float[] PreferenceScores(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default)
    {
        var sequences = ScoringTokenization.FromRequests([.. pairs.Select(p => p.First), .. pairs.Select(p => p.Second)], encoder, model.MaxLength, useTokenIds: false);
        return model.PairScores([.. pairs.Select((_, i) => new TokenizedPair(sequences[i], sequences[pairs.Count + i]))], batchSize, cancellation);
    }
}
