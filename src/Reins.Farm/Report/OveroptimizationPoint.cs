using System.Text.Json.Serialization;

namespace Reins.Farm.Report;

/// <summary>One checkpoint of an over-optimisation run (Gao et al. 2023): rewards against the distance travelled from SFT.</summary>
/// <param name="Step">Training step of the checkpoint.</param>
/// <param name="SqrtKl">√KL(π ‖ π_SFT), the x-axis of Gao et al.'s curves.</param>
/// <param name="GoldReward">Mean gold reward.</param>
/// <param name="ProxyReward">Mean proxy reward the run optimised.</param>
public sealed record OveroptimizationPoint(
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("sqrt_kl")] double SqrtKl,
    [property: JsonPropertyName("gold_reward")] double GoldReward,
    [property: JsonPropertyName("proxy_reward")] double ProxyReward);
