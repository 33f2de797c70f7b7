using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;

namespace Reins.Alignment.Online;

/// <summary>The cost constraint of Safe RLHF's Lagrangian methods, with safe-rlhf's names and the defaults of its scripts/ppo-lag.sh.</summary>
public sealed record LagrangeSettings : ISettings
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

    /// <inheritdoc/>
    public void Validate()
    {
        Settings.Require(float.IsFinite(Threshold), "threshold", "must be a finite number");
        Settings.Require(LambdaInit > 0 && float.IsFinite(LambdaInit), "lambda_init", "must be positive (log lambda is what moves)");
        Settings.Require(LambdaLr >= 0 && float.IsFinite(LambdaLr), "lambda_lr", "must not be negative");
        Settings.Require(LambdaMax >= LambdaInit && float.IsFinite(LambdaMax), "lambda_max", "must be at least lambda_init");
        Settings.Require(LambdaUpdateDelaySteps >= 0, "lambda_update_delay_steps", "must not be negative");
        Settings.Require(EpisodeCostWindowSize >= 1, "episode_cost_window_size", "must be positive");
    }
}

/// <summary>
/// Safe RLHF's Lagrange multiplier (Dai et al. 2024; safe-rlhf's ppo_lag): λ = exp(log λ) prices the cost. Each step
/// the episodes' costs join a window of the latest <see cref="LagrangeSettings.EpisodeCostWindowSize"/>, and once the
/// step count reaches the delay, log λ takes one SGD step on −λ·(J_C − d), J_C the window's mean — up while the
/// constraint is violated, down while it holds — and is clamped to log λ_max. A checkpoint part: log λ and the window
/// are saved (SGD keeps no other state), so a resumed run continues exactly.
/// </summary>
public sealed class LagrangeMultiplier(LagrangeSettings settings) : ICheckpointPart
{
    /// <summary>File name inside a checkpoint directory.</summary>
    public const string FileName = "lagrange.json";

    private readonly Queue<double> window = new();

    /// <summary>log λ.</summary>
    public double LogLambda { get; private set; } = Math.Log(settings.LambdaInit);

    /// <summary>λ.</summary>
    public double Lambda => Math.Exp(LogLambda);

    /// <summary>J_C: the mean cost of the episodes in the window (0 before any).</summary>
    public double EpisodeCost => window.Count == 0 ? 0 : window.Average();

    /// <summary>Adds step <paramref name="step"/>'s episode costs to the window, then updates λ when the delay has passed.</summary>
    public void Update(long step, IEnumerable<double> episodeCosts)
    {
        foreach (double cost in episodeCosts)
        {
            window.Enqueue(cost);
            if (window.Count > settings.EpisodeCostWindowSize) window.Dequeue();
        }
        if (step < settings.LambdaUpdateDelaySteps || window.Count == 0) return;
        // d/d(log λ) of −λ·(J_C − d) is −λ·(J_C − d); SGD subtracts lr times it.
        LogLambda = Math.Min(LogLambda + settings.LambdaLr * Lambda * (EpisodeCost - settings.Threshold), Math.Log(settings.LambdaMax));
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
