using Reins.Rewards.ProcessRewards;

namespace Reins.Rewards.Sources;

/// <summary>How a solution's step scores become one score.</summary>
public enum StepAggregation
{
    /// <summary>The weakest step (Lightman et al. 2023; ProcessBench's PRM baselines).</summary>
    Min,
    /// <summary>The product: the probability that every step is right (Lightman et al. 2023).</summary>
    Prod,
    /// <summary>The last step's score (Math-Shepherd's outcome-like reading).</summary>
    Last,
    /// <summary>The mean over steps.</summary>
    Mean,
}

/// <summary>A completion's score and the part each of its steps earned: step k's reward is due when the completion's text reaches <see cref="EndChars"/>[k].</summary>
/// <param name="Score">The completion's one score (the aggregate).</param>
/// <param name="EndChars">Where each scored step ends in the completion, its separator included (the text's length for the last).</param>
/// <param name="Rewards">Each scored step's reward.</param>
public sealed record StepRewards(float Score, int[] EndChars, float[] Rewards);

/// <summary>
/// A reward source that can also spread its score over a completion's steps, for methods that learn from token rewards
/// (Math-Shepherd's step-by-step PPO): <see cref="IRewardSource.Score"/> gives the aggregate, <see cref="StepRewards"/>
/// both.
/// </summary>
public interface IStepRewardSource : IRewardSource
{
    /// <summary>Each completion's score and step rewards, in order.</summary>
    IReadOnlyList<StepRewards> StepRewards(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default);
}

/// <summary>
/// A process reward model as a reward source: each completion is split into steps at the model's separator, the
/// steps are scored in the layout the model was trained on (the prompt as the problem), and the step scores are
/// aggregated. A completion with no step, or whose steps all fall beyond the model's positions, scores 0. As step
/// rewards, each scored step earns its P(correct) when its separator ends.
/// </summary>
public sealed class ProcessRewardSource(ProcessRewardModel model, StepAggregation aggregation, int batchSize = 16, string name = "prm") : IStepRewardSource
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <summary>
    /// The steps of a completion and where each ends (its separator included): the text split at the separator and
    /// trimmed, blank pieces dropped (as `prm label` splits them).
    /// </summary>
    public (string[] Steps, int[] EndChars) Steps(string completion) => StepSolution.Split(completion, model.StepSeparator);

    /// <inheritdoc/>
    public IReadOnlyList<StepRewards> StepRewards(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
    {
        var split = requests.Select(r => Steps(r.Completion)).ToArray();
        var withSteps = Enumerable.Range(0, requests.Count).Where(i => split[i].Steps.Length > 0).ToArray();
        var scored = model.StepScores([.. withSteps.Select(i => new StepSolution(requests[i].Prompt, split[i].Steps))], batchSize, cancellation);
        var result = new StepRewards[requests.Count];
        Array.Fill(result, new StepRewards(0, [], []));
        for (int j = 0; j < withSteps.Length; j++)
        {
            // Steps beyond the model's positions have no score, and earn nothing.
            var kept = Enumerable.Range(0, scored[j].Length).Where(k => scored[j][k] is not null).ToArray();
            float[] rewards = [.. kept.Select(k => scored[j][k]!.Value)];
            result[withSteps[j]] = new StepRewards(Aggregate(rewards, aggregation), [.. kept.Select(k => split[withSteps[j]].EndChars[k])], rewards);
        }
        return result;
    }

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) =>
        [.. StepRewards(requests, cancellation).Select(s => s.Score)];

    /// <summary>One score from step scores; 0 when there are none.</summary>
    public static float Aggregate(IReadOnlyList<float> stepScores, StepAggregation aggregation)
    {
        if (stepScores.Count == 0) return 0;
        return aggregation switch
        {
            StepAggregation.Min => stepScores.Min(),
            StepAggregation.Prod => stepScores.Aggregate(1f, (p, s) => p * s),
            StepAggregation.Last => stepScores[^1],
            StepAggregation.Mean => stepScores.Average(),
            _ => throw new ArgumentOutOfRangeException(nameof(aggregation), aggregation, "unknown step aggregation"),
        };
    }
}
