using Reins.Rewards.Sources;

namespace Reins.Alignment.Online;

/// <summary>
/// A cost model's signal in an online method, one of two ways: fixed shaping, where the policy learns from r − w·c, or
/// Safe RLHF's constraint, where the cost has its own advantage and a <see cref="LagrangeMultiplier"/> prices it against
/// the reward's. Either way the costs are the source's raw scores (above 0 unsafe) and are logged beside the reward.
/// </summary>
public sealed class CostConstraint
{
    private readonly IRewardSource cost;
    private readonly float? weight;

    /// <summary>Fixed shaping when <paramref name="settings"/> give a cost_weight, otherwise the Lagrangian.</summary>
    public CostConstraint(IRewardSource cost, CostConstraintSettings settings)
    {
        (this.cost, weight) = (cost, settings.CostWeight);
        Multiplier = weight is null ? new LagrangeMultiplier(settings) : null;
    }

    /// <summary>The Lagrange multiplier, or null under fixed shaping.</summary>
    public LagrangeMultiplier? Multiplier { get; }

    /// <summary>
    /// The cost of each of <paramref name="scored"/>'s completions, logged as objective/cost (with the reward as
    /// objective/reward); under the Lagrangian they first move λ (step <paramref name="step"/>), whose new value prices
    /// this step's advantages and is logged as lagrange/lambda, and come back as the policy's cost advantage is to be
    /// taken from them (HC-RLHF's pessimistic costs with safety_delta).
    /// </summary>
    public float[] Costs(ScoredRollout scored, long step, Dictionary<string, double> metrics)
    {
        var costs = cost.Score(scored.Requests);
        metrics["objective/cost"] = costs.Average();
        metrics["objective/reward"] = scored.Scores.Average();
        if (Multiplier is not { } multiplier) return costs;
        multiplier.Update(step, costs.Select(c => (double)c));
        metrics["lagrange/lambda"] = multiplier.Lambda;
        metrics["lagrange/episode_cost"] = multiplier.EpisodeCost;
        metrics["lagrange/constrained_cost"] = multiplier.ConstrainedCost;
        return multiplier.PolicyCosts(costs);
    }

    /// <summary>What the policy's reward advantage is taken from: r − w·c under fixed shaping, the reward itself under the Lagrangian.</summary>
    public float[] Shaped(float[] scores, float[] costs) => weight is { } w ? [.. scores.Zip(costs, (r, c) => r - w * c)] : scores;
}
