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

/// <summary>
/// A process reward model as a reward source: each completion is split into steps at the model's separator, the
/// steps are scored in the layout the model was trained on (the prompt as the problem), and the step scores are
/// aggregated. A completion with no step, or whose steps all fall beyond the model's positions, scores 0.
/// </summary>
public sealed class ProcessRewardSource(ProcessRewardModel model, StepAggregation aggregation, int batchSize = 16, string name = "prm") : IRewardSource
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <summary>The steps of a completion: its text split at the separator and trimmed, blank pieces dropped (as `prm label` splits them).</summary>
    public string[] Steps(string completion) => [.. completion.Split(model.StepSeparator).Select(s => s.Trim()).Where(s => s.Length > 0)];

    /// <summary>Each completion's step scores (empty for a completion without steps).</summary>
    public float[][] StepScores(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
    {
        var steps = requests.Select(r => Steps(r.Completion)).ToArray();
        var withSteps = Enumerable.Range(0, requests.Count).Where(i => steps[i].Length > 0).ToArray();
        var scored = model.StepScores([.. withSteps.Select(i => new StepSolution(requests[i].Prompt, steps[i]))], batchSize, cancellation);
        var result = new float[requests.Count][];
        Array.Fill(result, []);
        for (int j = 0; j < withSteps.Length; j++) result[withSteps[j]] = [.. scored[j].OfType<float>()];
        return result;
    }

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) =>
        [.. StepScores(requests, cancellation).Select(s => Aggregate(s, aggregation))];

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
