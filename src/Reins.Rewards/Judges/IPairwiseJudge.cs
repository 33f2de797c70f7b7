using Reins.Rewards.Sources;

namespace Reins.Rewards.Judges;

/// <summary>
/// Two completions of one prompt to compare. Both requests carry the same prompt and record fields; the judge sees
/// the texts (and ids, for judges that read tokens) as the policy produced them.
/// </summary>
public sealed record PairToJudge(ScoringRequest First, ScoringRequest Second);

/// <summary>
/// Whoever says which of two completions is better: an annotator (simulated or human), an LLM judge (Guo et al. 2024's
/// AI feedback), or a reward source compared with itself (<see cref="RewardSourceJudge"/>). TRL's BasePairwiseJudge,
/// with a probability instead of a rank so that a pool of annotators can report how many of them preferred each.
/// </summary>
public interface IPairwiseJudge
{
    /// <summary>Name used in logs.</summary>
    string Name { get; }

    /// <summary>
    /// For each pair, the probability that the first completion is preferred: 1 or 0 for a decided judge, 0.5 for a
    /// tie (no preference), anything between for a soft one. Trainers take the more likely side and skip ties.
    /// </summary>
    float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default);
}

/// <summary>
/// A judge whose verdict is a preference score, the logit of its probability: s(first, second) with P = σ(s) and
/// s(second, first) = −s(first, second) (a general preference model's ⟨R v₁, v₂⟩/τ). GPO optimises it in place of a win-rate.
/// </summary>
public interface IPreferenceScoreJudge : IPairwiseJudge
{
    /// <summary>For each pair, the preference score of the first completion over the second.</summary>
    float[] PreferenceScores(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default);
}

/// <summary>A reward source as a judge: both completions are scored, and the higher score wins (equal scores tie).</summary>
public sealed class RewardSourceJudge(IRewardSource source) : IPairwiseJudge
{
    /// <inheritdoc/>
    public string Name => source.Name;

    /// <inheritdoc/>
    public float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default)
    {
        // One call for all completions: a reward model scores them in batches, a program or endpoint in one exchange.
        var scores = source.Score([.. pairs.Select(p => p.First), .. pairs.Select(p => p.Second)], cancellation);
        if (scores.Length != 2 * pairs.Count)
            throw new InvalidDataException($"reward source '{source.Name}' returned {scores.Length} scores for {2 * pairs.Count} completions.");
        return [.. pairs.Select((_, i) => PreferenceOf(scores[i], scores[pairs.Count + i]))];
    }

    /// <summary>The judgement a score comparison gives: 1 when the first scores higher, 0 when lower, 0.5 when equal.</summary>
    public static float PreferenceOf(float first, float second) => first > second ? 1f : first < second ? 0f : 0.5f;
}
