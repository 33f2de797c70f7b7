using Reins.Rewards.Sources;

namespace Reins.Farm.Tasks;

/// <summary>
/// A task's gold reward as a reward source: what GRPO, RLOO and PPO optimise on a verifiable task, and what the
/// evaluation scores every method with.
/// </summary>
public sealed class GoldRewardSource(IFarmTask task) : IRewardSource
{
    /// <inheritdoc/>
    public string Name => "gold";

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
    {
        var scores = new float[requests.Count];
        for (int i = 0; i < scores.Length; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            scores[i] = (float)task.Gold(requests[i].Prompt, requests[i].Completion);
        }
        return scores;
    }
}
