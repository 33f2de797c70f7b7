namespace Reins.Alignment.Objectives;

/// <summary>
/// Group-relative advantages (Shao et al. 2024, §4.1.2, outcome supervision): each completion's reward less its
/// group's mean, divided by the group's standard deviation (unbiased, as torch.std) plus 1e−4 unless scaling is off.
/// </summary>
public static class GroupRelativeAdvantage
{
    /// <summary>Advantages [rows] for groups of <paramref name="groupSize"/> adjacent rewards, and the share of groups whose rewards are all equal (they teach nothing).</summary>
    public static (float[] Advantages, double FractionZeroStd) Compute(ReadOnlySpan<float> rewards, int groupSize, bool scale)
    {
        var advantages = new float[rewards.Length];
        int groups = rewards.Length / groupSize, flat = 0;
        for (int g = 0; g < groups; g++)
        {
            var group = rewards.Slice(g * groupSize, groupSize);
            double mean = 0, squares = 0;
            foreach (float r in group) mean += r;
            mean /= groupSize;
            foreach (float r in group) squares += (r - mean) * (r - mean);
            double std = Math.Sqrt(squares / (groupSize - 1));
            if (std < 1e-8) flat++;
            for (int i = 0; i < groupSize; i++)
                advantages[g * groupSize + i] = (float)((group[i] - mean) / (scale ? std + 1e-4 : 1));
        }
        return (advantages, (double)flat / groups);
    }
}
