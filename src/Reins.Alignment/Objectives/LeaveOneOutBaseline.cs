namespace Reins.Alignment.Objectives;

/// <summary>
/// The leave-one-out baseline of Kool et al. 2019 as RLOO uses it (Ahmadian et al. 2024, Eq. 5): with k samples of a
/// prompt, sample i's baseline is the mean reward of the other k − 1, so A_i = r_i − (Σ_j r_j − r_i)/(k − 1) — unbiased,
/// since the baseline does not depend on sample i.
/// </summary>
public static class LeaveOneOutBaseline
{
    /// <summary>Advantages [rows] for groups of <paramref name="k"/> adjacent rewards.</summary>
    public static float[] Advantages(ReadOnlySpan<float> rewards, int k)
    {
        var advantages = new float[rewards.Length];
        for (int g = 0; g < rewards.Length / k; g++)
        {
            double sum = 0;
            for (int i = 0; i < k; i++) sum += rewards[g * k + i];
            for (int i = 0; i < k; i++)
            {
                float r = rewards[g * k + i];
                advantages[g * k + i] = (float)(r - (sum - r) / (k - 1));
            }
        }
        return advantages;
    }
}

/// <summary>
/// The plain group baseline of REINFORCE++-baseline (Hu 2025; OpenRLHF's reinforce_baseline): each reward less its
/// group's mean, with no division by the group's spread (the batch-wide whitening that follows does the scaling).
/// </summary>
public static class GroupMeanBaseline
{
    /// <summary>Rewards [rows] less the mean of their group of <paramref name="groupSize"/> adjacent rewards.</summary>
    public static float[] Subtract(ReadOnlySpan<float> rewards, int groupSize)
    {
        var centred = rewards.ToArray();
        for (int g = 0; g < centred.Length / groupSize; g++)
        {
            var group = centred.AsSpan(g * groupSize, groupSize);
            float mean = group.ToArray().Average();
            foreach (ref float s in group) s -= mean;
        }
        return centred;
    }
}
