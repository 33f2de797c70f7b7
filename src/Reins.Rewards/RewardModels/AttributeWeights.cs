using System.Globalization;

namespace Reins.Rewards.RewardModels;

/// <summary>
/// The user's weights for combining a multi-attribute reward model's outputs into one reward, r = Σₖ wₖ·sₖ, as
/// HelpSteer2 and ArmoRM combine helpfulness, correctness, verbosity …; chosen at scoring time, not training time.
/// </summary>
public static class AttributeWeights
{
    /// <summary>
    /// One weight per label, in label order: the named ones, 0 for the rest; 1/K each when <paramref name="weights"/> is
    /// null. A name that is not a label is an error naming the labels.
    /// </summary>
    public static float[] Resolve(IReadOnlyList<string> labels, IReadOnlyDictionary<string, float>? weights)
    {
        if (weights is null) return [.. Enumerable.Repeat(1f / labels.Count, labels.Count)];
        foreach (var name in weights.Keys)
            if (!labels.Contains(name)) throw new ArgumentException($"reward weights: '{name}' is not an output of the reward model ({string.Join(", ", labels)}).");
        return [.. labels.Select(l => weights.GetValueOrDefault(l))];
    }

    /// <summary>Parses "helpfulness=1,verbosity=-0.5" into weights by name.</summary>
    public static IReadOnlyDictionary<string, float> Parse(string text)
    {
        var weights = new Dictionary<string, float>(StringComparer.Ordinal);
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0 || !float.TryParse(part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out float w) || !float.IsFinite(w))
                throw new ArgumentException($"reward weights: '{part}' is not name=number (e.g. helpfulness=1,verbosity=-0.5).");
            if (!weights.TryAdd(part[..eq].Trim(), w)) throw new ArgumentException($"reward weights: '{part[..eq].Trim()}' is given twice.");
        }
        return weights.Count > 0 ? weights : throw new ArgumentException("reward weights: expected name=number pairs, got nothing.");
    }

    /// <summary>Σₖ wₖ·sₖ of each row of <paramref name="scores"/>, laid out [sequence, label].</summary>
    public static float[] Combine(ReadOnlySpan<float> scores, ReadOnlySpan<float> weights)
    {
        int k = weights.Length;
        var rewards = new float[scores.Length / k];
        for (int i = 0; i < rewards.Length; i++)
        {
            double sum = 0;
            for (int j = 0; j < k; j++) sum += (double)weights[j] * scores[i * k + j];
            rewards[i] = (float)sum;
        }
        return rewards;
    }
}
