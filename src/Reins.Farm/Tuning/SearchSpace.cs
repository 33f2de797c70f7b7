using Reins.Farm.Pipeline;
using Reins.Farm.Report;

namespace Reins.Farm.Tuning;

/// <summary>One setting searched and the values tried, in the order trials are listed.</summary>
/// <param name="Name">Its key in trials.jsonl.</param>
/// <param name="Values">The values tried.</param>
public sealed record TuningDimension(string Name, IReadOnlyList<double> Values);

/// <summary>
/// A method's grid: every combination of its dimensions' values (the first dimension varying slowest), and how a
/// combination is written into a <see cref="FarmConfig"/>.
/// </summary>
/// <param name="Method">The method's name (<see cref="MethodNames"/>).</param>
/// <param name="Dimensions">The settings searched.</param>
/// <param name="Apply">The config with a combination's values in the method's settings.</param>
public sealed record MethodSearch(string Method, IReadOnlyList<TuningDimension> Dimensions, Func<FarmConfig, IReadOnlyDictionary<string, double>, FarmConfig> Apply)
{
    /// <summary>Every combination, as setting name → value.</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> Candidates()
    {
        IEnumerable<IReadOnlyList<KeyValuePair<string, double>>> combinations = [[]];
        foreach (var dimension in Dimensions)
            combinations = [.. combinations.SelectMany(c => dimension.Values.Select(v => (IReadOnlyList<KeyValuePair<string, double>>)[.. c, new(dimension.Name, v)]))];
        return [.. combinations.Select(c => (IReadOnlyDictionary<string, double>)new Dictionary<string, double>(c))];
    }

    /// <summary>A combination as one line ("learning_rate=0.0001 beta=0.1"), its identity in trials.jsonl.</summary>
    public static string Describe(IReadOnlyDictionary<string, double> settings) => string.Join(" ", settings.Select(kv => $"{kv.Key}={kv.Value:R}"));
}

/// <summary>
/// What `reins farm tune` searches: for each trained method, the settings that decide how far it moves from SFT within
/// the budget — its learning rate, and its KL coefficient β or its group size — on a small grid around common
/// defaults (TRL's, and the ranges of AlpacaFarm's and the methods' papers). The step count is not searched: the
/// budget (completions sampled) is the same for every online method, and a method hurt by using all of it shows that
/// as a lower learning rate or a larger β chosen. Best-of-n has nothing to tune (its n is in its name).
/// </summary>
public static class SearchSpace
{
    private static readonly double[] SmallRates = [1e-4, 2e-4, 5e-4], LargeRates = [1e-4, 3e-4, 1e-3], PpoRates = [3e-5, 1e-4, 3e-4];
    private static readonly double[] DpoBetas = [0.05, 0.1, 0.3], GroupSizes = [4, 8];

    /// <summary>The grids, in the order the farm reports the methods.</summary>
    public static IReadOnlyList<MethodSearch> All { get; } =
    [
        new(MethodNames.ExpertIteration, [new("learning_rate", LargeRates), new("num_generations", GroupSizes)], (c, s) =>
            c with { ExpertIteration = c.ExpertIteration with { LearningRate = (float)s["learning_rate"], NumGenerations = (int)s["num_generations"] } }),
        new(MethodNames.Dpo, [new("learning_rate", SmallRates), new("beta", DpoBetas)], (c, s) =>
            c with { Dpo = c.Dpo with { LearningRate = (float)s["learning_rate"], Beta = (float)s["beta"] } }),
        new(MethodNames.OnlineDpo, [new("learning_rate", SmallRates), new("beta", DpoBetas)], (c, s) =>
            c with { OnlineDpo = c.OnlineDpo with { LearningRate = (float)s["learning_rate"], Beta = (float)s["beta"] } }),
        new(MethodNames.Ppo, [new("learning_rate", PpoRates), new("kl_coef", [0.02, 0.05, 0.2])], (c, s) =>
            c with { Ppo = c.Ppo with { LearningRate = (float)s["learning_rate"], KlCoef = (float)s["kl_coef"] } }),
        // β 0 is TRL's GRPO default today, 0.04 its earlier one.
        new(MethodNames.Grpo, [new("learning_rate", LargeRates), new("num_generations", GroupSizes), new("beta", [0, 0.04])], (c, s) =>
            c with { Grpo = new((float)s["learning_rate"], (int)s["num_generations"], (float)s["beta"]) }),
        // β 0.05 is TRL's RLOO default.
        new(MethodNames.Rloo, [new("learning_rate", LargeRates), new("num_generations", GroupSizes), new("beta", [0, 0.05])], (c, s) =>
            c with { Rloo = new((float)s["learning_rate"], (int)s["num_generations"], (float)s["beta"]) }),
    ];

    /// <summary>The grid of <paramref name="method"/>; an unknown name is an error listing the known ones.</summary>
    public static MethodSearch Of(string method) => All.FirstOrDefault(m => m.Method == method)
        ?? throw new ArgumentException($"no tuning grid for method '{method}'; the tunable methods are {string.Join(", ", All.Select(m => m.Method))}.");
}
