using System.Text.Json.Serialization;

namespace Reins.Farm.Report;

/// <summary>One best-of-n point: a selector's gold accuracy when it picks one of n samples per held-out prompt.</summary>
/// <param name="Selector">prm_gold, prm_shepherd, orm or majority.</param>
/// <param name="N">Samples per prompt.</param>
/// <param name="Accuracy">Gold accuracy of the picks.</param>
/// <param name="Interval">Its bootstrap 95% interval over prompts.</param>
public sealed record BestOfNSelection(
    [property: JsonPropertyName("selector")] string Selector,
    [property: JsonPropertyName("n")] int N,
    [property: JsonPropertyName("accuracy")] double Accuracy,
    [property: JsonPropertyName("interval")] double[] Interval);

/// <summary>ProcessBench's scores of one judge on the farm's held-out traces.</summary>
/// <param name="Judge">prm_gold, prm_shepherd, orm (threshold ½) or critic.</param>
/// <param name="F1">Harmonic mean of the two accuracies.</param>
/// <param name="ErrorAccuracy">Exact earliest-error index on wrong traces.</param>
/// <param name="CorrectAccuracy">Right traces judged right.</param>
/// <param name="Erroneous">Wrong traces.</param>
/// <param name="Correct">Right traces.</param>
public sealed record ProcessBenchScore(
    [property: JsonPropertyName("judge")] string Judge,
    [property: JsonPropertyName("f1")] double? F1,
    [property: JsonPropertyName("error_accuracy")] double? ErrorAccuracy,
    [property: JsonPropertyName("correct_accuracy")] double? CorrectAccuracy,
    [property: JsonPropertyName("erroneous")] int Erroneous,
    [property: JsonPropertyName("correct")] int Correct);

/// <summary>A PPO run's gold accuracy on the held-out prompts after some steps.</summary>
/// <param name="Reward">dense_prm (the PRM's step rewards) or outcome_orm (the ORM's score at the end).</param>
/// <param name="Step">Steps taken.</param>
/// <param name="Accuracy">Gold accuracy of one sample per prompt.</param>
public sealed record RewardCurvePoint(
    [property: JsonPropertyName("reward")] string Reward,
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("accuracy")] double Accuracy);

/// <summary>The process-supervision study of a step-by-step task.</summary>
/// <param name="Traces">Training traces labelled.</param>
/// <param name="LabelAgreement">Share of their steps whose Math-Shepherd label equals the gold one.</param>
/// <param name="BestOfN">PRMs, ORM and majority voting against n.</param>
/// <param name="ProcessBench">Each judge on the farm's ProcessBench.</param>
/// <param name="Ppo">Dense against outcome reward for PPO.</param>
public sealed record ProcessSupervisionResults(
    [property: JsonPropertyName("traces")] int Traces,
    [property: JsonPropertyName("label_agreement")] double LabelAgreement,
    [property: JsonPropertyName("best_of_n")] IReadOnlyList<BestOfNSelection> BestOfN,
    [property: JsonPropertyName("processbench")] IReadOnlyList<ProcessBenchScore> ProcessBench,
    [property: JsonPropertyName("ppo")] IReadOnlyList<RewardCurvePoint> Ppo);
