using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;
using Reins.Farm.Evaluation;

namespace Reins.Farm.Report;

/// <summary>One method over the seeds of a summary.</summary>
/// <param name="Name">The method.</param>
/// <param name="Gold">Mean over seeds of the gold reward, with its hierarchical 95% interval [low, high].</param>
/// <param name="GoldCi">The interval.</param>
/// <param name="GoldMinusSftCi">Hierarchical 95% interval of the per-prompt gold difference to SFT (same prompts in each seed).</param>
/// <param name="WinRate">Mean over seeds of the win-rate against SFT (0.5 for SFT).</param>
/// <param name="WinRateCi">Its hierarchical 95% interval (null for SFT).</param>
/// <param name="ProxyReward">Mean over seeds of the proxy reward.</param>
/// <param name="KlToSft">Mean over seeds of the KL to SFT.</param>
/// <param name="PerSeedGold">Each seed's gold reward, in the order of the summary's seeds.</param>
public sealed record SummaryMethod(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("gold_reward")] double Gold,
    [property: JsonPropertyName("gold_reward_ci")] double[] GoldCi,
    [property: JsonPropertyName("gold_minus_sft_ci")] double[]? GoldMinusSftCi,
    [property: JsonPropertyName("win_rate_vs_sft")] double WinRate,
    [property: JsonPropertyName("win_rate_vs_sft_ci")] double[]? WinRateCi,
    [property: JsonPropertyName("proxy_reward")] double ProxyReward,
    [property: JsonPropertyName("kl_to_sft")] double KlToSft,
    [property: JsonPropertyName("per_seed_gold_reward")] double[] PerSeedGold);

/// <summary>
/// summary.json of a multi-seed farm run: each method's mean over the seeds with intervals from a hierarchical bootstrap
/// (seeds resampled, then prompts within each seed), and findings computed from those numbers — never written by hand.
/// Seeds of one summary share a task, a config and a split: development and test seeds are never mixed.
/// </summary>
public sealed record FarmSummary(
    [property: JsonPropertyName("task")] string Task,
    [property: JsonPropertyName("split")] string Split,
    [property: JsonPropertyName("seeds")] IReadOnlyList<ulong> Seeds,
    [property: JsonPropertyName("methods")] IReadOnlyList<SummaryMethod> Methods,
    [property: JsonPropertyName("findings")] IReadOnlyList<string> Findings)
{
    /// <summary>The file name inside a multi-seed run's output directory.</summary>
    public const string FileName = "summary.json";

    /// <summary>
    /// The summary of the runs in <paramref name="runs"/> (each a results.json with its per-prompt values); refuses runs
    /// that differ in task, config or split.
    /// </summary>
    public static FarmSummary From(IReadOnlyList<(FarmResults Results, PerPromptValues Values)> runs, ulong bootstrapSeed = 0x5EED)
    {
        if (runs.Count == 0) throw new ArgumentException("farm summary: no runs.", nameof(runs));
        var first = runs[0].Results;
        string Describe(FarmResults r) => $"seed {r.Seed} ({r.Task}, {r.Split ?? "no split recorded"})";
        foreach (var (results, _) in runs.Skip(1))
        {
            if (results.Task != first.Task) throw new InvalidDataException($"farm summary: {Describe(results)} is another task than {Describe(first)}.");
            if (results.Split != first.Split)
                throw new InvalidDataException($"farm summary: {Describe(results)} and {Describe(first)} mix development and test seeds; tuning reads only development seeds and reports only test seeds, so they are summarised apart.");
            if (Config(results) != Config(first)) throw new InvalidDataException($"farm summary: {Describe(results)} ran another config than {Describe(first)}.");
        }
        if (first.Split is null) throw new InvalidDataException($"farm summary: {Describe(first)} records no split (a results.json from before splits were recorded).");

        var sftGold = runs.Select(r => r.Values.Methods[MethodNames.Sft].Gold).ToArray();
        var methods = first.Methods.Select((m, k) =>
        {
            var rows = runs.Select(r => r.Results.Methods.Single(x => x.Name == m.Name)).ToArray();
            var values = runs.Select(r => r.Values.Methods[m.Name]).ToArray();
            ulong seed = bootstrapSeed + (ulong)k * 4;
            var gold = Bootstrap.Hierarchical([.. values.Select(v => v.Gold)], seed);
            bool isSft = m.Name == MethodNames.Sft;
            double[]? difference = isSft ? null
                : Bootstrap.Hierarchical([.. values.Select((v, s) => (IReadOnlyList<double>)[.. v.Gold.Zip(sftGold[s], (a, b) => a - b)])], seed + 1).ToArray();
            var win = isSft ? (ConfidenceInterval?)null : Bootstrap.Hierarchical([.. values.Select(v => v.Win)], seed + 2);
            return new SummaryMethod(m.Name, gold.Estimate, gold.ToArray(), difference, win?.Estimate ?? 0.5, win?.ToArray(),
                rows.Average(r => r.ProxyReward), rows.Average(r => r.KlToSft), [.. rows.Select(r => r.GoldReward)]);
        }).ToArray();
        // Development seeds are what tuning chose settings on: numbers from them are biased upwards, so they state no finding.
        IReadOnlyList<string> findings = first.Split == "dev"
            ? [$"No findings: seeds {string.Join(", ", runs.Select(r => r.Results.Seed))} are development seeds, which tuning selects on; findings come from test seeds only."]
            : ComputeFindings(methods, runs.Count);
        return new FarmSummary(first.Task, first.Split, [.. runs.Select(r => r.Results.Seed)], methods, findings);
    }

    private static string Config(FarmResults results) => JsonSerializer.Serialize(results.Config, FarmResultsJsonContext.Default.FarmConfig);

    // Sentences that follow from the intervals: which methods beat SFT on gold and with the evaluators, which lost, and
    // where the proxy rose while gold fell (over-optimisation).
    private static IReadOnlyList<string> ComputeFindings(IReadOnlyList<SummaryMethod> methods, int seeds)
    {
        static string F(double x) => x.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture);
        var sft = methods.Single(m => m.Name == MethodNames.Sft);
        var others = methods.Where(m => m.Name != MethodNames.Sft).ToArray();
        string List(IEnumerable<SummaryMethod> ms, Func<SummaryMethod, string> detail) => ms.Any() ? string.Join(", ", ms.Select(m => $"{m.Name} ({detail(m)})")) : "none";
        string Gain(SummaryMethod m) => $"{F(m.Gold - sft.Gold)} gold, interval [{F(m.GoldMinusSftCi![0])}, {F(m.GoldMinusSftCi[1])}]";
        var findings = new List<string>
        {
            $"Over {seeds} seed(s): beat SFT on gold beyond the 95% interval: {List(others.Where(m => m.GoldMinusSftCi![0] > 0), Gain)}.",
            $"Fell below SFT on gold beyond the interval: {List(others.Where(m => m.GoldMinusSftCi![1] < 0), Gain)}.",
            $"Within the interval of SFT on gold: {List(others.Where(m => m.GoldMinusSftCi![0] <= 0 && m.GoldMinusSftCi[1] >= 0), Gain)}.",
            $"Preferred to SFT by the evaluator pool beyond the interval: {List(others.Where(m => m.WinRateCi![0] > 0.5), m => $"win-rate {m.WinRate:F3}")}.",
        };
        var overoptimised = others.Where(m => m.ProxyReward > sft.ProxyReward && m.GoldMinusSftCi![1] < 0).ToArray();
        findings.Add($"Over-optimised (proxy reward above SFT's while gold fell below it beyond the interval): {List(overoptimised, m => $"proxy {F(m.ProxyReward - sft.ProxyReward)}, KL {m.KlToSft:F1}")}.");
        return findings;
    }

    /// <summary>Indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, FarmSummaryJsonContext.Default.FarmSummary);

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/> and returns its path.</summary>
    public string Write(string directory)
    {
        string path = Path.Combine(directory, FileName);
        RunDirectory.WriteAtomically(path, ToJson() + "\n");
        return path;
    }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(FarmSummary))]
internal sealed partial class FarmSummaryJsonContext : JsonSerializerContext;
