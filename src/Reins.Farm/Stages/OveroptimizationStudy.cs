using Reins.Farm.Evaluation;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Feedback.Datasets;
using Reins.Rewards.Ensembles;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Sources;

namespace Reins.Farm.Stages;

/// <summary>
/// Over-optimisation (Gao et al. 2023): PPO with a small KL coefficient against one reward model, against the
/// ensemble's worst case (WCO) and against its uncertainty-weighted mean (UWO, Coste et al. 2024), each evaluated from
/// the SFT policy (step 0, KL 0) every few steps, so a rise and fall of the gold reward under a rising proxy shows.
/// </summary>
internal static class OveroptimizationStudy
{
    /// <summary>The three curves.</summary>
    public static OveroptimizationResults Run(FarmContext farm, MethodEvaluation evaluation, IReadOnlyList<RewardModel> rewardModels,
        IRewardSource proxy, IReadOnlyList<PromptOnlyExample> prompts)
    {
        var settings = farm.Config.Overoptimization;
        var ensemble = new RewardEnsemble(rewardModels);
        var curves = new Dictionary<string, List<OveroptimizationPoint>>();
        foreach (var (name, reward) in new (string, IRewardSource)[]
        {
            (MethodNames.Single, proxy),
            (MethodNames.WorstCaseOptimization, new EnsembleRewardSource(ensemble, farm.Encoder, EnsembleAggregation.WorstCase)),
            (MethodNames.UncertaintyWeightedOptimization, new EnsembleRewardSource(ensemble, farm.Encoder, EnsembleAggregation.UncertaintyWeighted, settings.UncertaintyPenalty)),
        })
        {
            var points = curves[name] = [];
            var start = evaluation.Measure(farm.LoadSft());
            points.Add(new OveroptimizationPoint(0, 0, start.Gold, start.Proxy));
            var ppo = PolicyMethods.Ppo(farm, "overopt-" + name, settings.KlCoef, settings.Steps, reward, rewardModels[0], prompts);
            farm.Train("overopt-" + name, ppo, step =>
            {
                if (step % settings.Every != 0) return;
                var (gold, proxyReward, kl) = evaluation.Measure(ppo.Model);
                points.Add(new OveroptimizationPoint(step, Math.Sqrt(Math.Max(0, kl)), gold, proxyReward));
            }, PolicyMethods.PpoCurves);
            farm.Log($"over-optimisation ({name}): {string.Join("; ", points.Select(p => $"√KL {p.SqrtKl:F2} gold {p.GoldReward:F3} proxy {p.ProxyReward:F3}"))}");
        }
        return new OveroptimizationResults(curves[MethodNames.Single], curves[MethodNames.WorstCaseOptimization], curves[MethodNames.UncertaintyWeightedOptimization]);
    }
}
