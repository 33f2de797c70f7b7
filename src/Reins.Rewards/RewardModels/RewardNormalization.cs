using System.Text.Json;
using System.Text.Json.Serialization;

namespace Reins.Rewards.RewardModels;

/// <summary>
/// The mean and standard deviation of a reward model's scores over a reference set (by default a sample of its
/// training sequences, chosen and rejected alike), one pair per output label, saved beside the weights as
/// <see cref="FileName"/>. A reward is only defined up to a shift (and, across models, a scale), so RL and ensembles
/// use the standardised score (r − μ)/σ: a KL coefficient then means the same for every reward model, and ensemble
/// members are comparable before their minimum or variance is taken (Coste et al. 2024, §4).
/// </summary>
/// <param name="Labels">Output names, one per column of the score head (the attributes of a regression model).</param>
/// <param name="Mean">Per-label mean μ.</param>
/// <param name="Std">Per-label population standard deviation σ.</param>
/// <param name="Count">Sequences the statistics were estimated from.</param>
public sealed record RewardNormalization(
    [property: JsonPropertyName("labels")] IReadOnlyList<string> Labels,
    [property: JsonPropertyName("mean")] float[] Mean,
    [property: JsonPropertyName("std")] float[] Std,
    [property: JsonPropertyName("count")] long Count)
{
    /// <summary>File name inside a reward model directory.</summary>
    public const string FileName = "reward_normalization.json";

    // A label whose scores never varied would divide by zero; it is left unscaled instead.
    private const float MinStd = 1e-6f;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Statistics of <paramref name="scores"/>, laid out [sequence, label] with one column per label.</summary>
    public static RewardNormalization Estimate(IReadOnlyList<string> labels, ReadOnlySpan<float> scores)
    {
        int k = labels.Count;
        if (k == 0 || scores.Length == 0 || scores.Length % k != 0)
            throw new ArgumentException($"reward normalisation: {scores.Length} scores do not fill rows of {k} labels.", nameof(scores));
        int n = scores.Length / k;
        var mean = new float[k];
        var std = new float[k];
        for (int j = 0; j < k; j++)
        {
            // Two passes in double: the scores of one label can sit far from zero with a small spread.
            double sum = 0;
            for (int i = 0; i < n; i++) sum += scores[i * k + j];
            double mu = sum / n, squares = 0;
            for (int i = 0; i < n; i++) squares += (scores[i * k + j] - mu) * (scores[i * k + j] - mu);
            mean[j] = (float)mu;
            std[j] = (float)Math.Sqrt(squares / n);
        }
        return new RewardNormalization([.. labels], mean, std, n);
    }

    /// <summary>(r − μ)/σ of every score, laid out [sequence, label] as <see cref="Estimate"/> takes them.</summary>
    public float[] Normalize(ReadOnlySpan<float> scores)
    {
        int k = Labels.Count;
        if (scores.Length % k != 0) throw new ArgumentException($"reward normalisation: {scores.Length} scores do not fill rows of {k} labels.", nameof(scores));
        var result = new float[scores.Length];
        for (int i = 0; i < scores.Length; i++)
        {
            int j = i % k;
            result[i] = (scores[i] - Mean[j]) / Math.Max(Std[j], MinStd);
        }
        return result;
    }

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/>.</summary>
    public void Save(string directory) =>
        File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Indented));

    /// <summary>Reads <see cref="FileName"/> from <paramref name="directory"/>, or null when the directory has none.</summary>
    public static RewardNormalization? Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return null;
        RewardNormalization? loaded;
        try { loaded = JsonSerializer.Deserialize<RewardNormalization>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON: {e.Message}"); }
        if (loaded is null || loaded.Labels is null || loaded.Mean is null || loaded.Std is null)
            throw new InvalidDataException($"{path}: expected fields 'labels', 'mean' and 'std'.");
        if (loaded.Labels.Count == 0 || loaded.Mean.Length != loaded.Labels.Count || loaded.Std.Length != loaded.Labels.Count)
            throw new InvalidDataException($"{path}: 'labels', 'mean' and 'std' must have one entry per label ({loaded.Labels.Count}, {loaded.Mean.Length}, {loaded.Std.Length}).");
        if (loaded.Std.Any(s => !(s >= 0)) || loaded.Mean.Any(m => !float.IsFinite(m)))
            throw new InvalidDataException($"{path}: 'mean' must be finite and 'std' non-negative.");
        return loaded;
    }
}
