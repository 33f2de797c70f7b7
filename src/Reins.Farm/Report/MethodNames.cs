namespace Reins.Farm.Report;

/// <summary>The names results.json gives the methods and the over-optimisation runs, exactly as the farm's issue fixes them.</summary>
public static class MethodNames
{
    /// <summary>The SFT model, the reference every other method is compared with.</summary>
    public const string Sft = "sft";
    /// <summary>Best of 4 SFT samples by the proxy reward.</summary>
    public static readonly string BestOf4 = BestOf(4);
    /// <summary>Best of 16 SFT samples by the proxy reward.</summary>
    public static readonly string BestOf16 = BestOf(16);
    /// <summary>Best of n SFT samples by the proxy reward (best_of_4, best_of_16, …).</summary>
    public static string BestOf(int n) => $"best_of_{n}";
    /// <summary>SFT on the policy's own best-of-n samples.</summary>
    public const string ExpertIteration = "expert_iteration";
    /// <summary>Direct preference optimisation on the annotated pairs.</summary>
    public const string Dpo = "dpo";
    /// <summary>DPO on fresh policy samples labelled by the reward model.</summary>
    public const string OnlineDpo = "online_dpo";
    /// <summary>PPO against the reward model.</summary>
    public const string Ppo = "ppo";
    /// <summary>Group relative policy optimisation.</summary>
    public const string Grpo = "grpo";
    /// <summary>REINFORCE leave-one-out.</summary>
    public const string Rloo = "rloo";

    /// <summary>PPO on the reward less a fixed weight times the cost (the safety task).</summary>
    public const string PpoShaped = "ppo_shaped";
    /// <summary>Safe RLHF's PPO-Lagrangian (the safety task).</summary>
    public const string SafePpo = "safe_ppo";
    /// <summary>GRPO under the same cost constraint (the safety task).</summary>
    public const string SafeGrpo = "safe_grpo";
    /// <summary>Best of n under the cost constraint (the safety task).</summary>
    public static string BestOfSafe(int n) => $"best_of_{n}_safe";

    /// <summary>Nash-MD against the general preference model (the cyclic task).</summary>
    public const string NashMd = "nash_md";
    /// <summary>SPPO against the general preference model (the cyclic task).</summary>
    public const string Sppo = "sppo";
    /// <summary>DNO against the general preference model (the cyclic task).</summary>
    public const string Dno = "dno";
    /// <summary>PPO on the EM mixture reward model's groups weighed by their shares of the annotators (the pluralistic task).</summary>
    public const string PpoMixture = "ppo_mixture";
    /// <summary>PPO on the EM mixture's worst-served group, MaxMin-RLHF (the pluralistic task).</summary>
    public const string PpoMaxMin = "ppo_maxmin";

    /// <summary>Every method of every task but the safety, cyclic and pluralistic tasks' own, in the order the report lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Sft, BestOf4, BestOf16, ExpertIteration, Dpo, OnlineDpo, Ppo, Grpo, Rloo];

    /// <summary>Over-optimisation run against a single reward model.</summary>
    public const string Single = "single";
    /// <summary>Over-optimisation run against the worst-case (minimum) of a reward-model ensemble.</summary>
    public const string WorstCaseOptimization = "wco";
    /// <summary>Over-optimisation run against the uncertainty-weighted (mean − λ·variance) ensemble reward.</summary>
    public const string UncertaintyWeightedOptimization = "uwo";
}
