using Reins.Feedback.Tokenization;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;

namespace Reins.Rewards.Sources;

/// <summary>
/// A reward model as a reward source: each prompt+completion is encoded with the model's tokenizer (or taken as token
/// ids), scored in batches, standardised with the model's statistics and, for a multi-output model, combined with the
/// options' weights or aggregation; each output is reported too, for logging.
/// </summary>
public sealed class RewardModelSource(RewardModel model, ITextEncoder encoder, RewardScoringOptions? options = null, string name = "reward_model") : IMultiOutputRewardSource
{
    private readonly RewardScoringOptions options = (options ?? new RewardScoringOptions()).Validate();

    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <summary>The cost model in <paramref name="directory"/> as a source of raw costs named "cost"; any other model is refused.</summary>
    public static RewardModelSource Cost(string directory)
    {
        var model = RewardModel.Load(directory);
        if (!model.IsCostModel)
            throw new InvalidDataException($"{directory}: not a cost model (its output is labelled {string.Join(", ", model.Labels)}, not \"{RewardModel.CostLabel}\"); train one with reins cm.");
        return new RewardModelSource(model, new TokenizerEncoder(model.TokenizerFrom(directory)), new RewardScoringOptions { Normalize = false }, RewardModel.CostLabel);
    }

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) => ScoreOutputs(requests, cancellation).Scores;

    /// <summary>The combined reward and, for a multi-output model, each output (standardised as the reward is).</summary>
    public (float[] Scores, IReadOnlyDictionary<string, float[]> Outputs) ScoreOutputs(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
    {
        var scores = model.Score(ScoringTokenization.FromRequests(requests, encoder, model.MaxLength, options.UseRequestTokenIds), options, cancellation);
        return (scores.Rewards, scores.Details);
    }
}
