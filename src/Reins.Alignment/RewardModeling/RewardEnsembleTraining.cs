using Reins.Rewards.Ensembles;
using Reins.Tensors;

namespace Reins.Alignment.RewardModeling;

/// <summary>
/// How the members of a reward-model ensemble are trained (Coste et al. 2024): member i runs the same settings with seed
/// seed + i (its own score-head initialisation and data order) into output_dir/member-i, optionally on its own bootstrap
/// sample of the training set (n draws with replacement, Efron 1979), so members disagree where the data says little.
/// </summary>
public static class RewardEnsembleTraining
{
    /// <summary>One member's settings and the training-set indices it learns from (repeats included).</summary>
    /// <param name="Index">Member number i.</param>
    /// <param name="Config">The settings with seed + i and output_dir/member-i.</param>
    /// <param name="TrainIndices">Indices into the training set.</param>
    public sealed record Member(int Index, RewardConfig Config, int[] TrainIndices)
    {
        /// <summary>Whether the member's final model is already saved (a resumed ensemble run skips it).</summary>
        public bool Finished => File.Exists(Path.Combine(Config.Training.OutputDir, "model.safetensors"));
    }

    /// <summary>The plan of <paramref name="members"/> members over a training set of <paramref name="trainCount"/> records.</summary>
    public static IReadOnlyList<Member> Plan(RewardConfig config, int trainCount, int members, bool bootstrap)
    {
        if (members < 1) throw new ArgumentOutOfRangeException(nameof(members), members, "rm ensemble: needs at least one member.");
        if (trainCount < 1) throw new ArgumentOutOfRangeException(nameof(trainCount), trainCount, "rm ensemble: the training set is empty.");
        return [.. Enumerable.Range(0, members).Select(i =>
        {
            ulong seed = config.Training.Seed + (ulong)i;
            var memberConfig = config with { Training = config.Training with { Seed = seed, OutputDir = RewardEnsemble.MemberPath(config.Training.OutputDir, i) } };
            return new Member(i, memberConfig, bootstrap ? Bootstrap(trainCount, seed) : [.. Enumerable.Range(0, trainCount)]);
        })];
    }

    private static int[] Bootstrap(int count, ulong seed)
    {
        // A stream apart from the member's shuffling and initialisation, which also derive from its seed.
        var rng = new Rng(seed ^ 0xB0075B0075UL);
        var sample = new int[count];
        for (int i = 0; i < count; i++) sample[i] = rng.NextInt(count);
        Array.Sort(sample);
        return sample;
    }
}
