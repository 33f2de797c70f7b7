using System.Text.Json.Serialization;

namespace Reins.Farm.Report;

/// <summary>results.json's "overoptimization": the small-KL-coefficient PPO runs, one curve per reward.</summary>
/// <param name="Single">Against a single reward model.</param>
/// <param name="Wco">Against the worst case of the ensemble (Coste et al. 2024).</param>
/// <param name="Uwo">Against the uncertainty-weighted ensemble reward (Coste et al. 2024).</param>
public sealed record OveroptimizationResults(
    [property: JsonPropertyName(MethodNames.Single)] IReadOnlyList<OveroptimizationPoint> Single,
    [property: JsonPropertyName(MethodNames.WorstCaseOptimization)] IReadOnlyList<OveroptimizationPoint> Wco,
    [property: JsonPropertyName(MethodNames.UncertaintyWeightedOptimization)] IReadOnlyList<OveroptimizationPoint> Uwo)
{
    /// <summary>The curves with their names, in the order single, wco, uwo.</summary>
    public IEnumerable<(string Name, IReadOnlyList<OveroptimizationPoint> Points)> Curves()
    {
        yield return (MethodNames.Single, Single);
        yield return (MethodNames.WorstCaseOptimization, Wco);
        yield return (MethodNames.UncertaintyWeightedOptimization, Uwo);
    }
}
