using Reins.Feedback.Tokenization;
using Reins.Models.Tokenizers;
using Reins.Rewards.PreferenceModels;
using Reins.Rewards.Scoring;

namespace Reins.Rewards.Judges;

/// <summary>
/// A preference model as a judge — a general preference model or a pair preference model: its preference score of each
/// pair (the logit, antisymmetric by construction) and P(first ≻ second) = σ(score), a soft label that already sums to 1
/// with the swapped order's, so no second call in the other order is needed. Completions are re-encoded with the
/// model's own tokenizer, prompt then completion as its training built them, EOS only after one that finished.
/// </summary>
public sealed class PreferenceModelJudge : IPreferenceScoreJudge
{
    private readonly Func<IReadOnlyList<PairToJudge>, CancellationToken, float[]> scores;

    /// <summary>A general preference model as a judge.</summary>
    public PreferenceModelJudge(GeneralPreferenceModel model, ITextEncoder encoder, int batchSize = 16, string name = "preference_model")
    {
        Name = name;
        scores = (pairs, cancellation) =>
        {
            var sequences = ScoringTokenization.FromRequests([.. pairs.Select(p => p.First), .. pairs.Select(p => p.Second)], encoder, model.MaxLength, useTokenIds: false);
            return model.PairScores([.. pairs.Select((_, i) => new TokenizedPair(sequences[i], sequences[pairs.Count + i]))], batchSize, cancellation);
        };
    }

    /// <summary>A pair preference model as a judge.</summary>
    public PreferenceModelJudge(PairPreferenceModel model, ITextEncoder encoder, int batchSize = 16, string name = "preference_model")
    {
        Name = name;
        scores = (pairs, cancellation) => model.PairScores([.. pairs.Select(p => (p.First, p.Second))], encoder, batchSize, cancellation);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The preference model saved in <paramref name="directory"/> (general or pair) with its tokenizer.</summary>
    public static PreferenceModelJudge Load(string directory, int batchSize = 16)
    {
        if (PairPreferenceModel.IsPairModel(directory))
        {
            var pair = PairPreferenceModel.Load(directory);
            return new PreferenceModelJudge(pair, new TokenizerEncoder(pair.Network.TokenizerFrom(directory)), batchSize);
        }
        var model = GeneralPreferenceModel.Load(directory);
        return new PreferenceModelJudge(model, new TokenizerEncoder(model.TokenizerFrom(directory)), batchSize);
    }

    /// <inheritdoc/>
    public float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default) =>
        [.. PreferenceScores(pairs, cancellation).Select(s => 1f / (1f + MathF.Exp(-s)))];

    /// <summary>The logit of <see cref="Judge"/>'s probability of each pair.</summary>
    public float[] PreferenceScores(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default) => scores(pairs, cancellation);
}
