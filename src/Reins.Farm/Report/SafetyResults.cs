using System.Text.Json.Serialization;

namespace Reins.Farm.Report;

/// <summary>One method's HC-RLHF safety test on the held-out prompts, with its gold cost beside the verdict.</summary>
/// <param name="Method">The method.</param>
/// <param name="N">Responses tested (one per held-out prompt).</param>
/// <param name="MeanCost">Mean cost-model cost.</param>
/// <param name="UpperBound">The one-sided (1 − δ) Student-t upper bound of the expected cost.</param>
/// <param name="Result">"pass" (bound at most the threshold) or "no solution found".</param>
/// <param name="GoldCost">Mean gold cost of the same responses.</param>
public sealed record SafetyTestResult(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("n")] int N,
    [property: JsonPropertyName("mean_cost")] double MeanCost,
    [property: JsonPropertyName("upper_bound")] double UpperBound,
    [property: JsonPropertyName("result")] string Result,
    [property: JsonPropertyName("gold_cost")] double GoldCost);

/// <summary>A Lagrangian method's λ at a logged step.</summary>
public sealed record LambdaPoint(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("lambda")] double Lambda);

/// <summary>One week of the jailbreak-drift replay: each detector's FNR at the target FPR, measured before it retrains on the week.</summary>
/// <param name="Period">The week, from 0.</param>
/// <param name="Styles">The jailbreak styles in it.</param>
/// <param name="Static">The detector as first trained.</param>
/// <param name="SelfTrained">Retrained on its own confident labels.</param>
/// <param name="TrueLabels">Retrained on the true labels.</param>
public sealed record DriftPeriod(
    [property: JsonPropertyName("period")] int Period,
    [property: JsonPropertyName("styles")] IReadOnlyList<string> Styles,
    [property: JsonPropertyName("static_fnr")] double? Static,
    [property: JsonPropertyName("self_trained_fnr")] double? SelfTrained,
    [property: JsonPropertyName("true_labels_fnr")] double? TrueLabels);

/// <summary>
/// The safety study: what the cost model learned from, the constraint, every method's safety test, λ over training, and
/// the jailbreak-drift replay. The methods' harmful and over-refusal rates are in their rows of results.json's methods.
/// </summary>
/// <param name="SafetyPairs">Pairs labelled for safety.</param>
/// <param name="LabelAgreement">Share of the noisy is_safe labels that agree with the gold cost.</param>
/// <param name="CostModelAccuracy">Share of the held-out SFT responses whose cost-model sign agrees with the gold cost's.</param>
/// <param name="Threshold">d, on the cost model's scale.</param>
/// <param name="CostWeight">w of ppo_shaped.</param>
/// <param name="Delta">δ of the safety test.</param>
/// <param name="SafetyTests">One per method.</param>
/// <param name="Lambda">λ of safe_ppo and safe_grpo at each logged step.</param>
/// <param name="DetectorFpr">The false-positive rate of the drift detectors' thresholds.</param>
/// <param name="JailbreakDrift">The drift replay, week by week.</param>
public sealed record SafetyResults(
    [property: JsonPropertyName("safety_pairs")] int SafetyPairs,
    [property: JsonPropertyName("label_agreement")] double LabelAgreement,
    [property: JsonPropertyName("cost_model_accuracy")] double CostModelAccuracy,
    [property: JsonPropertyName("threshold")] double Threshold,
    [property: JsonPropertyName("cost_weight")] double CostWeight,
    [property: JsonPropertyName("delta")] double Delta,
    [property: JsonPropertyName("safety_tests")] IReadOnlyList<SafetyTestResult> SafetyTests,
    [property: JsonPropertyName("lambda")] IReadOnlyList<LambdaPoint> Lambda,
    [property: JsonPropertyName("detector_fpr")] double DetectorFpr,
    [property: JsonPropertyName("jailbreak_drift")] IReadOnlyList<DriftPeriod> JailbreakDrift);
