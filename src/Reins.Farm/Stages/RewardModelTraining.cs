using Reins.Alignment.RewardModeling;
using Reins.Farm.Pipeline;
using Reins.Feedback.Datasets;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;

namespace Reins.Farm.Stages;

/// <summary>
/// The fourth stage: Bradley–Terry reward models on the annotated pairs, each from the reward model's base with its own
/// seed (its score head's initialisation and data order): the first is the proxy reward every method optimises, all of
/// them the ensemble of the over-optimisation study (Coste et al. 2024).
/// </summary>
internal static class RewardModelTraining
{
    /// <summary>ensemble_members reward models ("reward-model", "reward-model-1", …), loaded back as saved.</summary>
    public static IReadOnlyList<RewardModel> Run(FarmContext farm, CausalLanguageModel rewardBase, IReadOnlyList<PreferenceExample> preferences)
    {
        var settings = farm.Config.RewardModels;
        return [.. Enumerable.Range(0, settings.EnsembleMembers).Select(member =>
        {
            string name = member == 0 ? "reward-model" : $"reward-model-{member}";
            farm.Train(name, new RewardTrainer(Config(farm, name, farm.Seed + (ulong)member * settings.MemberSeedStride), rewardBase.Clone(), farm.Encoder, preferences, null,
                farm.Tokenizer.Save));
            return RewardModel.Load(farm.RunDir(name));
        })];
    }

    /// <summary>The reward models' training settings for stage <paramref name="name"/> with <paramref name="seed"/> (also the studies' preference and mixture models').</summary>
    public static RewardConfig Config(FarmContext farm, string name, ulong seed) => new()
    {
        Training = new()
        {
            OutputDir = farm.RunDir(name), MaxSteps = farm.Config.RewardModels.Steps, LearningRate = farm.Config.RewardModels.LearningRate,
            PerDeviceTrainBatchSize = farm.Config.BatchSize, LoggingSteps = 10, Seed = seed,
        },
        MaxLength = farm.Config.Context,
    };
}
