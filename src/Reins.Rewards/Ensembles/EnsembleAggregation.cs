namespace Reins.Rewards.Ensembles;

/// <summary>
/// How an ensemble's K member rewards (each standardised with its own statistics) become one reward, after Coste et
/// al. 2024, "Reward Model Ensembles Help Mitigate Overoptimization", §3.
/// </summary>
public enum EnsembleAggregation
{
    /// <summary>Mean optimisation: R = (1/K) Σᵢ Rᵢ.</summary>
    Mean,
    /// <summary>Worst-case optimisation (WCO): R = minᵢ Rᵢ, the most pessimistic member.</summary>
    WorstCase,
    /// <summary>
    /// Uncertainty-weighted optimisation (UWO): R = (1/K) Σᵢ Rᵢ − λ · (1/K) Σᵢ (Rᵢ − R̄)², the mean penalised by the
    /// members' (population) variance, which is large where they disagree: off the training distribution.
    /// </summary>
    UncertaintyWeighted,
}
