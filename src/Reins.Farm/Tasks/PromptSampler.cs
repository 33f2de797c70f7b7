using Reins.Tensors;

namespace Reins.Farm.Tasks;

/// <summary>
/// Draws a task's prompts and assigns them to splits by a stable hash of their text, so an evaluation prompt can never
/// leak into training data, whichever seeds the two were drawn with.
/// </summary>
public static class PromptSampler
{
    /// <summary>The share of the prompt space held out for evaluation.</summary>
    public const double EvalFraction = 0.2;

    /// <summary>The share of the prompt space, inside the held-out part, reserved for tuning (a quarter of it).</summary>
    public const double DevelopmentFraction = 0.05;

    /// <summary>Whether <paramref name="prompt"/> is in <paramref name="split"/> (a held-out prompt is in Eval and in one of Development and Test).</summary>
    public static bool IsIn(FarmSplit split, string prompt)
    {
        double u = Position(prompt);
        return split switch
        {
            FarmSplit.Train => u >= EvalFraction,
            FarmSplit.Eval => u < EvalFraction,
            FarmSplit.Development => u < DevelopmentFraction,
            FarmSplit.Test => u >= DevelopmentFraction && u < EvalFraction,
            _ => throw new ArgumentOutOfRangeException(nameof(split)),
        };
    }

    // The prompt's place in [0, 1): every split is an interval of it, so they nest and never overlap by accident.
    private static double Position(string prompt)
    {
        // FNV-1a, then SplitMix64's finaliser so that short, similar prompts land uniformly in [0, 1).
        ulong h = 14695981039346656037UL;
        foreach (char c in prompt) h = (h ^ c) * 1099511628211UL;
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
        h ^= h >> 31;
        return (h >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>
    /// <paramref name="count"/> draws of <paramref name="draw"/> whose prompt text (<paramref name="text"/>) falls in
    /// <paramref name="split"/>; the others are rejected.
    /// </summary>
    public static List<T> Sample<T>(FarmSplit split, int count, ulong seed, Func<Rng, T> draw, Func<T, string> text)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var rng = new Rng(seed);
        var drawn = new List<T>(count);
        // The smallest split (development) holds a twentieth of the prompt space, so this bound is only reached by a
        // prompt space too small to have prompts in every split.
        for (long attempts = 0; drawn.Count < count; attempts++)
        {
            if (attempts > 1000L + 100L * count)
                throw new InvalidOperationException($"the task's prompt space has (almost) no {split} prompts");
            var item = draw(rng);
            if (IsIn(split, text(item))) drawn.Add(item);
        }
        return drawn;
    }
}
