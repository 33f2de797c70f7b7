using System.Globalization;
using Reins.Feedback.Tokenization;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;

namespace Reins.Rewards.Ensembles;

/// <summary>
/// K reward models trained apart (different seeds and/or bootstrap samples of the training set), saved as
/// <c>member-0</c> … <c>member-(K−1)</c> of one directory, scored together as in Coste et al. 2024: each member's score
/// is standardised with that member's own statistics, then the standardised rewards are aggregated (mean, WCO, UWO).
/// </summary>
public sealed class RewardEnsemble
{
    /// <summary>Prefix of member directories.</summary>
    public const string MemberPrefix = "member-";

    /// <summary>An ensemble of <paramref name="members"/>, each with normalisation statistics and the same outputs.</summary>
    public RewardEnsemble(IReadOnlyList<RewardModel> members)
    {
        if (members.Count == 0) throw new ArgumentException("reward ensemble: no members.", nameof(members));
        for (int i = 0; i < members.Count; i++)
        {
            if (members[i].Normalization is null)
                throw new ArgumentException($"reward ensemble: member {i} has no normalisation statistics ({RewardNormalization.FileName}); members are only comparable standardised.", nameof(members));
            if (!members[i].Labels.SequenceEqual(members[0].Labels))
                throw new ArgumentException($"reward ensemble: member {i} outputs ({string.Join(", ", members[i].Labels)}), member 0 ({string.Join(", ", members[0].Labels)}).", nameof(members));
        }
        Members = members;
    }

    /// <summary>The members, in index order.</summary>
    public IReadOnlyList<RewardModel> Members { get; }

    /// <summary>Longest sequence every member takes.</summary>
    public int MaxLength => Members.Min(m => m.MaxLength);

    /// <summary>The directory of member <paramref name="index"/> inside <paramref name="directory"/>.</summary>
    public static string MemberPath(string directory, int index) => Path.Combine(directory, MemberPrefix + index.ToString(CultureInfo.InvariantCulture));

    /// <summary>Member directories of <paramref name="directory"/> in index order (empty when it is not an ensemble).</summary>
    public static IReadOnlyList<string> MemberDirectories(string directory) => Directory.Exists(directory)
        ? [.. Directory.GetDirectories(directory, MemberPrefix + "*")
            .Select(d => (Ok: int.TryParse(Path.GetFileName(d)[MemberPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int i), Index: i, Path: d))
            .Where(m => m.Ok).OrderBy(m => m.Index).Select(m => m.Path)]
        : [];

    /// <summary>Loads every member-i of <paramref name="directory"/>.</summary>
    public static RewardEnsemble Load(string directory)
    {
        var paths = MemberDirectories(directory);
        if (paths.Count == 0) throw new DirectoryNotFoundException($"{directory}: no {MemberPrefix}N directories (train them with `reins rm ensemble`).");
        return new RewardEnsemble([.. paths.Select(p => RewardModel.Load(p))]);
    }

    /// <summary>Each member's standardised reward of every sequence: [member][sequence].</summary>
    public float[][] MemberRewards(IReadOnlyList<TokenizedSequence> sequences, RewardScoringOptions options, CancellationToken cancellation = default)
    {
        var standardised = options with { Normalize = true };
        return [.. Members.Select(m => m.Score(sequences, standardised, cancellation).Rewards)];
    }

    /// <summary>
    /// The aggregated reward of every sequence; the details are the members' mean, minimum and variance, so a run can
    /// log how uncertain the ensemble was.
    /// </summary>
    public SequenceScores Score(IReadOnlyList<TokenizedSequence> sequences, EnsembleAggregation aggregation, float uncertaintyPenalty, RewardScoringOptions options, CancellationToken cancellation = default)
    {
        var members = MemberRewards(sequences, options, cancellation);
        var details = new Dictionary<string, float[]>
        {
            ["ensemble_mean"] = Aggregate(members, EnsembleAggregation.Mean, 0),
            ["ensemble_min"] = Aggregate(members, EnsembleAggregation.WorstCase, 0),
            ["ensemble_variance"] = Variance(members),
        };
        return new SequenceScores(Aggregate(members, aggregation, uncertaintyPenalty), details);
    }

    /// <summary>
    /// Combines standardised member rewards [member][sequence] by <paramref name="aggregation"/>;
    /// <paramref name="uncertaintyPenalty"/> is UWO's λ.
    /// </summary>
    public static float[] Aggregate(IReadOnlyList<float[]> memberRewards, EnsembleAggregation aggregation, float uncertaintyPenalty)
    {
        if (uncertaintyPenalty < 0) throw new ArgumentOutOfRangeException(nameof(uncertaintyPenalty), uncertaintyPenalty, "reward ensemble: the UWO penalty λ must not be negative.");
        var mean = Mean(memberRewards);
        return aggregation switch
        {
            EnsembleAggregation.Mean => mean,
            EnsembleAggregation.WorstCase => [.. Enumerable.Range(0, mean.Length).Select(i => memberRewards.Min(m => m[i]))],
            EnsembleAggregation.UncertaintyWeighted => [.. Variance(memberRewards).Select((v, i) => mean[i] - uncertaintyPenalty * v)],
            _ => throw new ArgumentOutOfRangeException(nameof(aggregation), aggregation, "unknown ensemble aggregation"),
        };
    }

    /// <summary>The members' population variance (1/K) Σᵢ (Rᵢ − R̄)² per sequence.</summary>
    public static float[] Variance(IReadOnlyList<float[]> memberRewards)
    {
        var mean = Mean(memberRewards);
        return [.. mean.Select((mu, i) => (float)(memberRewards.Sum(m => ((double)m[i] - mu) * ((double)m[i] - mu)) / memberRewards.Count))];
    }

    private static float[] Mean(IReadOnlyList<float[]> memberRewards)
    {
        if (memberRewards.Count == 0) throw new ArgumentException("reward ensemble: no member rewards.", nameof(memberRewards));
        int n = memberRewards[0].Length;
        if (memberRewards.Any(m => m.Length != n)) throw new ArgumentException("reward ensemble: members scored different numbers of sequences.", nameof(memberRewards));
        return [.. Enumerable.Range(0, n).Select(i => (float)(memberRewards.Sum(m => (double)m[i]) / memberRewards.Count))];
    }
}
