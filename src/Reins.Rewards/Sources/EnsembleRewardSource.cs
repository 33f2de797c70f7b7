using Reins.Feedback.Tokenization;
using Reins.Rewards.Ensembles;
using Reins.Rewards.Scoring;

namespace Reins.Rewards.Sources;

/// <summary>
/// A reward-model ensemble as a reward source (Coste et al. 2024): every member scores each completion, standardised with
/// its own statistics, and the rewards are combined by the mean, the minimum (WCO) or the mean minus λ times their
/// variance (UWO).
/// </summary>
public sealed class EnsembleRewardSource(RewardEnsemble ensemble, ITextEncoder encoder, EnsembleAggregation aggregation,
    float uncertaintyPenalty = 0, RewardScoringOptions? options = null, string name = "reward_ensemble") : IRewardSource
{
    private readonly RewardScoringOptions options = (options ?? new RewardScoringOptions()).Validate();

    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) =>
        ensemble.Score(ScoringTokenization.FromRequests(requests, encoder, ensemble.MaxLength, options.UseRequestTokenIds),
            aggregation, uncertaintyPenalty, options, cancellation).Rewards;
}
