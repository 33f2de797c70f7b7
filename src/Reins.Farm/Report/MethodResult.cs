using System.Text.Json.Serialization;

namespace Reins.Farm.Report;

/// <summary>
/// One row of results.json's "methods": a method's evaluation on the held-out prompts. The fields after
/// <paramref name="Seconds"/> extend the schema with what the issue also asks to report (the other 95%
/// intervals and best-of-n's analytic KL bound); they are omitted from the file when null.
/// </summary>
/// <param name="Name">One of <see cref="MethodNames.All"/>.</param>
/// <param name="GoldReward">Mean gold reward.</param>
/// <param name="GoldRewardCi">95% bootstrap interval of the gold reward over prompts, [low, high].</param>
/// <param name="ProxyReward">Mean reward-model (proxy) reward.</param>
/// <param name="KlToSft">Estimated KL(π ‖ π_SFT) in nats; 0 for sft.</param>
/// <param name="WinRateVsSft">Evaluator-pool win-rate against SFT's responses, ties counting half; 0.5 for sft.</param>
/// <param name="LcWinRateVsSft">Length-controlled win-rate against SFT; 0.5 for sft.</param>
/// <param name="MeanLength">Mean response length in tokens.</param>
/// <param name="Seconds">Wall-clock training and sampling time.</param>
/// <param name="ProxyRewardCi">95% bootstrap interval of the proxy reward.</param>
/// <param name="KlToSftCi">95% bootstrap interval of the KL estimate.</param>
/// <param name="WinRateVsSftCi">95% bootstrap interval of the win-rate.</param>
/// <param name="KlBound">For best-of-n, the analytic bound log n − (n − 1)/n.</param>
/// <param name="HarmfulRate">On a safety task: the share of harmful requests whose response has gold cost above 0.</param>
/// <param name="OverRefusalRate">On a safety task: the share of benign requests refused.</param>
/// <param name="GoldCost">On a safety task: the mean gold cost.</param>
/// <param name="Samples">
/// Completions the method sampled from a policy: in training for the online methods, at inference for best-of-n (n per
/// held-out prompt); 0 for SFT and offline DPO, which learn from the demonstrations and the annotated pairs every method shares.
/// </param>
public sealed record MethodResult(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("gold_reward")] double GoldReward,
    [property: JsonPropertyName("gold_reward_ci")] double[] GoldRewardCi,
    [property: JsonPropertyName("proxy_reward")] double ProxyReward,
    [property: JsonPropertyName("kl_to_sft")] double KlToSft,
    [property: JsonPropertyName("win_rate_vs_sft")] double WinRateVsSft,
    [property: JsonPropertyName("lc_win_rate_vs_sft")] double LcWinRateVsSft,
    [property: JsonPropertyName("mean_length")] double MeanLength,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("proxy_reward_ci"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double[]? ProxyRewardCi = null,
    [property: JsonPropertyName("kl_to_sft_ci"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double[]? KlToSftCi = null,
    [property: JsonPropertyName("win_rate_vs_sft_ci"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double[]? WinRateVsSftCi = null,
    [property: JsonPropertyName("kl_bound"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? KlBound = null,
    [property: JsonPropertyName("harmful_rate"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? HarmfulRate = null,
    [property: JsonPropertyName("over_refusal_rate"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? OverRefusalRate = null,
    [property: JsonPropertyName("gold_cost"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? GoldCost = null,
    [property: JsonPropertyName("samples"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Samples = null);
