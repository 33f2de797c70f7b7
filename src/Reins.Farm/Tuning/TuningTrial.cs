using System.Text.Json;
using System.Text.Json.Serialization;

namespace Reins.Farm.Tuning;

/// <summary>
/// One line of tune/trials.jsonl: a method trained with one combination of settings on one development seed and
/// evaluated on that seed's development prompts. Only <see cref="WinRateVsSft"/> is selected on; the gold and proxy
/// rewards and the KL are recorded so a reader can see what the selection did to them.
/// </summary>
/// <param name="Method">The method.</param>
/// <param name="Settings">The combination tried (setting name → value).</param>
/// <param name="Seed">The development seed.</param>
/// <param name="Rung">The successive-halving rung (0 for the first seed).</param>
/// <param name="Split">Always "dev": a trial never reads a test seed or a test prompt.</param>
/// <param name="WinRateVsSft">The simulated evaluator pool's win-rate against SFT on the development prompts.</param>
/// <param name="WinRateVsSftCi">Its 95% bootstrap interval.</param>
/// <param name="GoldReward">Mean gold reward (reported, never optimised).</param>
/// <param name="ProxyReward">Mean proxy reward.</param>
/// <param name="KlToSft">Estimated KL to SFT.</param>
/// <param name="Samples">Completions sampled in training.</param>
/// <param name="Seconds">Wall time of training and evaluation (the one field a rerun does not reproduce).</param>
public sealed record TuningTrial(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("settings")] IReadOnlyDictionary<string, double> Settings,
    [property: JsonPropertyName("seed")] ulong Seed,
    [property: JsonPropertyName("rung")] int Rung,
    [property: JsonPropertyName("split")] string Split,
    [property: JsonPropertyName("win_rate_vs_sft")] double WinRateVsSft,
    [property: JsonPropertyName("win_rate_vs_sft_ci")] double[] WinRateVsSftCi,
    [property: JsonPropertyName("gold_reward")] double GoldReward,
    [property: JsonPropertyName("proxy_reward")] double ProxyReward,
    [property: JsonPropertyName("kl_to_sft")] double KlToSft,
    [property: JsonPropertyName("samples")] long Samples,
    [property: JsonPropertyName("seconds")] double Seconds)
{
    /// <summary>What identifies the trial: method, settings and seed.</summary>
    [JsonIgnore]
    public (string Method, string Settings, ulong Seed) Key => (Method, MethodSearch.Describe(Settings), Seed);

    /// <summary>One JSON line.</summary>
    public string ToJsonLine() => JsonSerializer.Serialize(this, TuningJsonContext.Default.TuningTrial);

    /// <summary>Parses one line of trials.jsonl.</summary>
    public static TuningTrial FromJsonLine(string line) =>
        JsonSerializer.Deserialize(line, TuningJsonContext.Default.TuningTrial) ?? throw new JsonException("the line holds null");
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(TuningTrial))]
internal sealed partial class TuningJsonContext : JsonSerializerContext;
