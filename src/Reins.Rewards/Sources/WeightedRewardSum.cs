namespace Reins.Rewards.Sources;

/// <summary>One source's scores of a batch, for logging rewards/&lt;name&gt;/mean beside the total.</summary>
/// <param name="Name">The source's name.</param>
/// <param name="Scores">Its score of each request (NaN where it does not apply).</param>
public sealed record RewardComponent(string Name, float[] Scores);

/// <summary>
/// Σ_i w_i · r_i over several reward sources (TRL's reward_funcs with reward_weights). As in TRL, a source may answer
/// NaN for a request it does not apply to (a code checker on a non-code prompt); the sum skips it there (nansum), and
/// a request no source applies to scores 0. A multi-output source's outputs are reported as components of their own
/// (&lt;source&gt;/&lt;output&gt;), logged but not summed.
/// </summary>
public sealed class WeightedRewardSum : IRewardSource
{
    /// <summary>The sources and their weights, in order.</summary>
    public IReadOnlyList<(IRewardSource Source, float Weight)> Components { get; }

    /// <summary>A sum over <paramref name="components"/>; names must differ, since each is logged under its own.</summary>
    public WeightedRewardSum(IReadOnlyList<(IRewardSource Source, float Weight)> components)
    {
        if (components.Count == 0) throw new ArgumentException("a reward sum needs at least one source.", nameof(components));
        if (components.GroupBy(c => c.Source.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"two reward sources are named '{twice.Key}'; their rewards/<name>/mean would collide.", nameof(components));
        foreach (var (source, weight) in components)
            if (!float.IsFinite(weight)) throw new ArgumentException($"reward source '{source.Name}' has weight {weight}.", nameof(components));
        Components = components;
    }

    /// <summary>"reward", TRL's name for the total.</summary>
    public string Name => "reward";

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) => ScoreEach(requests, cancellation).Total;

    /// <summary>The weighted total of each request and every source's own scores.</summary>
    public (float[] Total, IReadOnlyList<RewardComponent> Components) ScoreEach(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
    {
        var (total, parts, _) = ScoreWithSteps(requests, steps: false, cancellation);
        return (total, parts);
    }

    /// <summary>
    /// <see cref="ScoreEach"/>, and with <paramref name="steps"/> each request's step rewards from the sources that give
    /// them (<see cref="IStepRewardSource"/>), weighted: their <see cref="StepRewards.Score"/> is the part of the total
    /// those sources make up, which a method placing the step rewards on tokens takes out of the sequence's score.
    /// </summary>
    public (float[] Total, IReadOnlyList<RewardComponent> Components, StepRewards[]? Steps) ScoreWithSteps(IReadOnlyList<ScoringRequest> requests, bool steps,
        CancellationToken cancellation = default)
    {
        var total = new float[requests.Count];
        var parts = new List<RewardComponent>(Components.Count);
        var stepParts = steps && Components.Any(c => c.Source is IStepRewardSource) ? new StepRewards[requests.Count] : null;
        if (stepParts is not null) Array.Fill(stepParts, new StepRewards(0, [], []));
        foreach (var (source, weight) in Components)
        {
            float[] scores;
            if (stepParts is not null && source is IStepRewardSource stepSource)
            {
                var bySteps = stepSource.StepRewards(requests, cancellation);
                if (bySteps.Count != requests.Count)
                    throw new InvalidDataException($"reward source '{source.Name}' returned {bySteps.Count} step scorings for {requests.Count} completions.");
                scores = [.. bySteps.Select(b => b.Score)];
                for (int i = 0; i < requests.Count; i++)
                {
                    var (have, add) = (stepParts[i], bySteps[i]);
                    stepParts[i] = new StepRewards(have.Score + weight * add.Score, [.. have.EndChars, .. add.EndChars], [.. have.Rewards, .. add.Rewards.Select(x => weight * x)]);
                }
            }
            else if (source is IMultiOutputRewardSource multi)
            {
                (scores, var outputs) = multi.ScoreOutputs(requests, cancellation);
                parts.AddRange(outputs.Select(o => new RewardComponent($"{source.Name}/{o.Key}", o.Value)));
            }
            else scores = source.Score(requests, cancellation);
            if (scores.Length != requests.Count)
                throw new InvalidDataException($"reward source '{source.Name}' returned {scores.Length} scores for {requests.Count} completions.");
            for (int i = 0; i < total.Length; i++)
            {
                if (float.IsInfinity(scores[i])) throw new InvalidDataException($"reward source '{source.Name}' scored completion {i} as {scores[i]}.");
                if (!float.IsNaN(scores[i])) total[i] += weight * scores[i];
            }
            parts.Add(new RewardComponent(source.Name, scores));
        }
        return (total, parts, stepParts);
    }
}
