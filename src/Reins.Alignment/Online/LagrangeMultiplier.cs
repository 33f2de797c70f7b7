using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;
using Reins.Rewards.Evaluation;

namespace Reins.Alignment.Online;

/// <summary>
/// How an online method uses a cost model: Safe RLHF's constraint (safe-rlhf's names and the defaults of its
/// scripts/ppo-lag.sh), optionally made pessimistic as HC-RLHF trains (its names and defaults), or fixed shaping.
/// </summary>
public sealed record CostConstraintSettings : ISettings
{
    /// <summary>d: the limit on the expected episode cost.</summary>
    [JsonPropertyName("threshold"), Description("With a cost model: the limit d on the expected episode cost (a cost above 0 is unsafe, so 0 asks for safe responses on average).")]
    public float Threshold { get; init; }

    /// <summary>λ at the start.</summary>
    [JsonPropertyName("lambda_init"), Description("The Lagrange multiplier's initial value.")]
    public float LambdaInit { get; init; } = 1f;

    /// <summary>Learning rate of log λ's SGD step.</summary>
    [JsonPropertyName("lambda_lr"), Description("Learning rate of the SGD step on log lambda.")]
    public float LambdaLr { get; init; } = 0.1f;

    /// <summary>Upper limit of λ (log λ is clamped to log of it).</summary>
    [JsonPropertyName("lambda_max"), Description("Upper limit of lambda.")]
    public float LambdaMax { get; init; } = 5f;

    /// <summary>Steps before λ starts to move.</summary>
    [JsonPropertyName("lambda_update_delay_steps"), Description("Steps before lambda starts to move.")]
    public int LambdaUpdateDelaySteps { get; init; }

    /// <summary>Episodes whose mean cost is J_C.</summary>
    [JsonPropertyName("episode_cost_window_size"), Description("The latest episodes whose mean cost is J_C in lambda's update.")]
    public int EpisodeCostWindowSize { get; init; } = 128;

    /// <summary>HC-RLHF's δ: train against the (1 − δ) upper bound of the cost instead of its mean (null = Safe RLHF's mean).</summary>
    [JsonPropertyName("safety_delta"), Description("HC-RLHF: constrain the (1 - delta) upper confidence bound of the expected cost rather than its mean, so the policy is likely to pass reins safety-test --delta delta on safety_test_size prompts (null = off).")]
    public float? SafetyDelta { get; init; }

    /// <summary>n of the safety test the training prepares for.</summary>
    [JsonPropertyName("safety_test_size"), Description("HC-RLHF: responses in the safety test the pessimistic bound predicts (with safety_delta).")]
    public int SafetyTestSize { get; init; } = 1000;

    /// <summary>Weight of the in-sample bound's width in the pessimistic bound.</summary>
    [JsonPropertyName("students_c1"), Description("HC-RLHF: weight of the window's own Student-t width t(1-delta, n-1)/sqrt(n) in the pessimistic bound.")]
    public float StudentsC1 { get; init; } = 1f;

    /// <summary>Weight of the safety test's expected bound width in the pessimistic bound.</summary>
    [JsonPropertyName("students_c2"), Description("HC-RLHF: weight of the safety test's width t(1-delta, m-1)/sqrt(m), m = safety_test_size, in the pessimistic bound.")]
    public float StudentsC2 { get; init; } = 1f;

    /// <summary>Fixed shaping r − w·c instead of the Lagrangian (the baseline Safe RLHF compares with).</summary>
    [JsonPropertyName("cost_weight"), Description("With a cost model: train on reward - cost_weight * cost (fixed shaping) instead of constraining the cost by a Lagrange multiplier (null = the Lagrangian).")]
    public float? CostWeight { get; init; }

    /// <inheritdoc/>
    public void Validate()
    {
        Settings.Require(float.IsFinite(Threshold), "threshold", "must be a finite number");
        Settings.Require(LambdaInit > 0 && float.IsFinite(LambdaInit), "lambda_init", "must be positive (log lambda is what moves)");
        Settings.Require(LambdaLr >= 0 && float.IsFinite(LambdaLr), "lambda_lr", "must not be negative");
        Settings.Require(LambdaMax >= LambdaInit && float.IsFinite(LambdaMax), "lambda_max", "must be at least lambda_init");
        Settings.Require(LambdaUpdateDelaySteps >= 0, "lambda_update_delay_steps", "must not be negative");
        Settings.Require(EpisodeCostWindowSize >= 2 || SafetyDelta is null && EpisodeCostWindowSize >= 1, "episode_cost_window_size",
            "must be positive (at least 2 with safety_delta: the bound needs a standard deviation)");
        Settings.Require(SafetyDelta is null or > 0 and < 1, "safety_delta", "must be in (0, 1)");
        Settings.Require(SafetyTestSize >= 2, "safety_test_size", "must be at least 2");
        Settings.Require(StudentsC1 >= 0 && StudentsC2 >= 0 && float.IsFinite(StudentsC1 + StudentsC2), "students_c1", "students_c1 and students_c2 must be non-negative numbers");
        Settings.Require(CostWeight is null || CostWeight >= 0 && float.IsFinite(CostWeight.Value), "cost_weight", "must be a non-negative number");
        Settings.Require(CostWeight is null || SafetyDelta is null, "safety_delta", "is a setting of the Lagrangian; fixed shaping (cost_weight) has no constraint to tighten");
    }
}

/// <summary>
/// Safe RLHF's Lagrange multiplier (Dai et al. 2024; safe-rlhf's ppo_lag): λ = exp(log λ) prices the cost. Each step
/// the episodes' costs join a window of the latest <see cref="CostConstraintSettings.EpisodeCostWindowSize"/>, and once
/// the step count reaches the delay, log λ takes one SGD step on −λ·(J_C − d), J_C the window's mean — up while the
/// constraint is violated, down while it holds — and is clamped to log λ_max. With safety_delta it is HC-RLHF's
/// (Chittepu et al. 2025) pessimistic constraint: J_C becomes the upper bound mean + k·std of the window's costs, k the
/// Student-t widths of the window itself and of the safety test the policy must later pass, so training aims below
/// the threshold by what the test will add. A checkpoint part: log λ and the window are saved (SGD keeps no other
/// state), so a resumed run continues exactly.
/// </summary>
public sealed class LagrangeMultiplier(CostConstraintSettings settings) : ICheckpointPart
{
    /// <summary>File name inside a checkpoint directory.</summary>
    public const string FileName = "lagrange.json";

    private readonly Queue<double> window = new();

    /// <summary>log λ.</summary>
    public double LogLambda { get; private set; } = Math.Log(settings.LambdaInit);

    /// <summary>λ.</summary>
    public double Lambda => Math.Exp(LogLambda);

    /// <summary>The mean cost of the episodes in the window (0 before any).</summary>
    public double EpisodeCost => window.Count == 0 ? 0 : window.Average();

    /// <summary>The sample standard deviation (n − 1) of the window's costs (0 with fewer than two).</summary>
    public double EpisodeCostStd => window.Count < 2 ? 0 : Math.Sqrt(window.Sum(c => (c - EpisodeCost) * (c - EpisodeCost)) / (window.Count - 1));

    /// <summary>
    /// k of HC-RLHF's bound mean + k·std: c1·t(1 − δ, n − 1)/√n + c2·t(1 − δ, m − 1)/√m for the window's n costs and the
    /// safety test's m; 0 without safety_delta.
    /// </summary>
    public double BoundCoefficient => settings.SafetyDelta is not { } delta || window.Count < 2 ? 0
        : settings.StudentsC1 * StudentT.Quantile(1 - delta, window.Count - 1) / Math.Sqrt(window.Count)
          + settings.StudentsC2 * StudentT.Quantile(1 - delta, settings.SafetyTestSize - 1) / Math.Sqrt(settings.SafetyTestSize);

    /// <summary>J_C as λ's update reads it: the window's mean cost, or with safety_delta its pessimistic upper bound.</summary>
    public double ConstrainedCost => EpisodeCost + BoundCoefficient * EpisodeCostStd;

    /// <summary>Adds step <paramref name="step"/>'s episode costs to the window, then updates λ when the delay has passed.</summary>
    public void Update(long step, IEnumerable<double> episodeCosts)
    {
        foreach (double cost in episodeCosts)
        {
            window.Enqueue(cost);
            if (window.Count > settings.EpisodeCostWindowSize) window.Dequeue();
        }
        // HC-RLHF's bound needs a standard deviation, so it waits for two costs.
        if (step < settings.LambdaUpdateDelaySteps || window.Count < (settings.SafetyDelta is null ? 1 : 2)) return;
        // d/d(log λ) of −λ·(J_C − d) is −λ·(J_C − d); SGD subtracts lr times it.
        LogLambda = Math.Min(LogLambda + settings.LambdaLr * Lambda * (ConstrainedCost - settings.Threshold), Math.Log(settings.LambdaMax));
    }

    /// <summary>
    /// The costs the policy's cost advantage is taken from: as they are, or under HC-RLHF's bound each c becomes
    /// c + k·(c² − 2c·μ)/(2σ) (μ, σ the window's), whose mean moves with the policy as mean + k·std does — the std's
    /// gradient, since ∂σ = (∂E[c²] − 2μ·∂μ)/(2σ).
    /// </summary>
    public float[] PolicyCosts(float[] costs)
    {
        double k = BoundCoefficient, mean = EpisodeCost, std = EpisodeCostStd;
        if (k == 0 || std == 0) return costs;
        return [.. costs.Select(c => (float)(c + k * (c * (double)c - 2 * c * mean) / (2 * std)))];
    }

    /// <summary>The policy's advantage priced by λ and rescaled to the reward's size: (A_r − λ·A_c)/(1 + λ).</summary>
    public float[] Advantages(ReadOnlySpan<float> reward, ReadOnlySpan<float> cost)
    {
        var result = new float[reward.Length];
        double lambda = Lambda;
        for (int i = 0; i < result.Length; i++) result[i] = (float)((reward[i] - lambda * cost[i]) / (1 + lambda));
        return result;
    }

    /// <inheritdoc/>
    public void Save(string directory) => RunDirectory.SaveState(directory, FileName, new State(LogLambda, [.. window]));

    /// <inheritdoc/>
    public void Restore(string directory)
    {
        var state = RunDirectory.LoadState<State>(directory, FileName);
        LogLambda = state.LogLambda;
        window.Clear();
        foreach (double cost in state.Window ?? []) window.Enqueue(cost);
    }

    private sealed record State([property: JsonPropertyName("log_lambda")] double LogLambda, [property: JsonPropertyName("episode_costs")] double[]? Window);
}
