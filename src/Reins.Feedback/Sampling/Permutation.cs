using Reins.Tensors;

namespace Reins.Feedback.Sampling;

/// <summary>Seeded Fisher–Yates shuffles: one thread, one generator, so the order depends on the seed alone.</summary>
public static class Permutation
{
    /// <summary>A uniformly random permutation of 0..count−1 determined by <paramref name="seed"/>.</summary>
    public static int[] Shuffled(int count, ulong seed)
    {
        var order = Enumerable.Range(0, count).ToArray();
        var rng = new Rng(seed);
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>The permutation of one epoch: epochs of a run differ, and the same (seed, epoch) always gives the same order.</summary>
    public static int[] ForEpoch(int count, ulong seed, int epoch) =>
        // Rng expands its seed with SplitMix64, so mixing the epoch in by a multiply gives unrelated streams per epoch.
        Shuffled(count, seed ^ (0x9E3779B97F4A7C15UL * (ulong)(epoch + 1)));
}
