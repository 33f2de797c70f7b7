namespace Reins.Rewards.Scoring;

/// <summary>How a reward model (or each member of an ensemble) turns sequences into rewards.</summary>
public sealed record RewardScoringOptions
{
    /// <summary>Sequences per forward pass.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>
    /// Standardise scores with the model's saved statistics (<see cref="RewardModels.RewardNormalization"/>) when it has
    /// them. Ensembles always standardise each member, since their minimum and variance mean nothing otherwise.
    /// </summary>
    public bool Normalize { get; init; } = true;

    /// <summary>
    /// Weight of each attribute of a multi-attribute model in the one reward (ArmoRM / HelpSteer2 style), by label;
    /// attributes not named weigh 0. Null weighs every attribute 1/K, which for a single-output model is the score itself.
    /// </summary>
    public IReadOnlyDictionary<string, float>? Weights { get; init; }

    /// <summary>How the outputs become one reward: the weighted sum (default), or the minimum or a soft minimum over them (MaxMin).</summary>
    public RewardAggregation Aggregation { get; init; } = RewardAggregation.WeightedSum;

    /// <summary>
    /// Score the token ids of a <see cref="Sources.ScoringRequest"/> as they are instead of re-encoding its texts.
    /// Only right when the policy and the reward model share a tokenizer.
    /// </summary>
    public bool UseRequestTokenIds { get; init; }

    /// <summary>Throws when a setting is out of range.</summary>
    public RewardScoringOptions Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "reward scoring: batch size must be positive.");
        if (Weights is not null && Aggregation.Kind != RewardAggregationKind.WeightedSum)
            throw new ArgumentException($"reward scoring: attribute weights apply to the weighted sum, not to the {Aggregation.Kind} aggregation.");
        return this;
    }
}
