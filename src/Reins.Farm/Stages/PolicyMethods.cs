using Reins.Alignment.Dpo;
using Reins.Alignment.ExpertIteration;
using Reins.Alignment.Grpo;
using Reins.Alignment.Online;
using Reins.Alignment.OnlineDpo;
using Reins.Alignment.Ppo;
using Reins.Alignment.Rloo;
using Reins.Alignment.Training;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Feedback.Datasets;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Sources;

namespace Reins.Farm.Stages;

/// <summary>What the methods learn from.</summary>
/// <param name="Prompts">The online methods' training prompts.</param>
/// <param name="Preferences">The annotated pairs (offline DPO).</param>
/// <param name="Proxy">The first reward model, which online DPO and expert iteration optimise on every task.</param>
/// <param name="OnlineReward">What the policy-gradient methods optimise: the proxy, or the gold reward on a verifiable task (RLVR).</param>
/// <param name="Critic">The reward model PPO's critic starts from.</param>
internal sealed record MethodInputs(IReadOnlyList<PromptOnlyExample> Prompts, IReadOnlyList<PreferenceExample> Preferences, IRewardSource Proxy,
    IRewardSource OnlineReward, RewardModel Critic);

/// <summary>A method that trains a policy from a fresh copy of the SFT model; the farm evaluates what it returns.</summary>
/// <param name="Name">Its name in results.json and its run directory.</param>
/// <param name="Trainer">Its trainer on the farm's settings, writing to the run directory of that name.</param>
/// <param name="Curves">The metrics the report draws of its run (null: loss and reward).</param>
internal sealed record PolicyMethod(string Name, Func<FarmContext, MethodInputs, ITrainer> Trainer, string[]? Curves = null)
{
    /// <summary>Trains the policy and returns it.</summary>
    public CausalLanguageModel Train(FarmContext farm, MethodInputs inputs) => farm.Train(Name, Trainer(farm, inputs), curves: Curves);
}

/// <summary>The trained methods in the order the farm runs and reports them, each with the settings of <see cref="FarmConfig"/>.</summary>
internal static class PolicyMethods
{
    /// <summary>Expert iteration, DPO, online DPO, PPO, GRPO and RLOO.</summary>
    public static IReadOnlyList<PolicyMethod> All { get; } =
    [
        // Expert iteration on the proxy: the best of n samples imitated.
        new(MethodNames.ExpertIteration, (farm, inputs) =>
        {
            var settings = farm.Config.ExpertIteration;
            return new ExpertIterationTrainer(new ExpertIterationConfig
            {
                Training = OnlineTraining(farm, MethodNames.ExpertIteration, settings.LearningRate, farm.Config.Online.Steps), Online = OnlineArguments(farm),
                Group = new() { NumGenerations = settings.NumGenerations }, KeepTop = settings.KeepTop,
            }, farm.LoadSft(), Inputs(farm, inputs.Prompts, inputs.Proxy));
        }),
        // Offline DPO on the annotated pairs, against the SFT policy.
        new(MethodNames.Dpo, (farm, inputs) =>
        {
            var settings = farm.Config.Dpo;
            return new DpoTrainer(new DpoConfig
            {
                Training = new()
                {
                    OutputDir = farm.RunDir(MethodNames.Dpo), MaxSteps = settings.Steps, LearningRate = settings.LearningRate, PerDeviceTrainBatchSize = farm.Config.BatchSize,
                    LoggingSteps = 5, Seed = farm.Seed,
                },
                Data = new() { MaxLength = farm.Config.Context, MaxPromptLength = farm.MaxPromptLength, MaxCompletionLength = farm.Config.MaxResponseTokens },
                Loss = new() { Beta = settings.Beta },
            }, farm.LoadSft(), farm.LoadSft(), farm.Encoder, inputs.Preferences, null, farm.Tokenizer.Save);
        }),
        // Online DPO (OAIF): each step's two samples per prompt judged by the reward model, the same proxy PPO optimises.
        new(MethodNames.OnlineDpo, (farm, inputs) => new OnlineDpoTrainer(new OnlineDpoConfig
        {
            Training = OnlineTraining(farm, MethodNames.OnlineDpo, farm.Config.OnlineDpo.LearningRate, farm.Config.Online.Steps), Online = OnlineArguments(farm),
            Loss = new() { Beta = farm.Config.OnlineDpo.Beta },
        }, farm.LoadSft(), farm.LoadSft(), Inputs(farm, inputs.Prompts, inputs.Proxy))),
        new(MethodNames.Ppo, (farm, inputs) => Ppo(farm, MethodNames.Ppo, farm.Config.Ppo.KlCoef, farm.Config.Online.Steps, inputs.OnlineReward, inputs.Critic, inputs.Prompts),
            PpoCurves),
        new(MethodNames.Grpo, (farm, inputs) => Grpo(farm, MethodNames.Grpo, inputs.OnlineReward, inputs.Prompts)),
        new(MethodNames.Rloo, (farm, inputs) => new RlooTrainer(new RlooConfig
        {
            Training = OnlineTraining(farm, MethodNames.Rloo, farm.Config.Rloo.LearningRate, farm.Config.Online.Steps), Online = OnlineArguments(farm),
            Group = new() { NumGenerations = farm.Config.Rloo.NumGenerations }, Beta = farm.Config.Rloo.Beta,
        }, farm.LoadSft(), farm.LoadSft(), Inputs(farm, inputs.Prompts, inputs.OnlineReward))),
    ];

    /// <summary>What the report draws of a PPO run: its reward and its KL to the reference.</summary>
    public static readonly string[] PpoCurves = ["reward", "objective/kl"];

    /// <summary>
    /// PPO from a fresh copy of the SFT policy against it, with KL coefficient <paramref name="klCoef"/> on
    /// <paramref name="reward"/> for <paramref name="steps"/> steps, its critic started from <paramref name="critic"/>;
    /// with <paramref name="cost"/>, shaped or constrained as <paramref name="constraint"/> says (Safe RLHF with
    /// <paramref name="costCritic"/>).
    /// </summary>
    public static PpoTrainer Ppo(FarmContext farm, string name, float klCoef, int steps, IRewardSource reward, RewardModel critic, IReadOnlyList<PromptOnlyExample> prompts,
        IRewardSource? cost = null, CostConstraintSettings? constraint = null, CausalLanguageModel? costCritic = null) =>
        new(new PpoConfig
        {
            Training = OnlineTraining(farm, name, farm.Config.Ppo.LearningRate, steps), Online = OnlineArguments(farm),
            KlCoef = klCoef, CriticLearningRate = farm.Config.Ppo.CriticLearningRate, Cost = constraint ?? new(),
        }, farm.LoadSft(), farm.LoadSft(), critic.Network.Clone(), Inputs(farm, prompts, reward),
            cost, costCritic);

    /// <summary>GRPO from a fresh copy of the SFT policy on <paramref name="reward"/>; with <paramref name="cost"/>, safe GRPO under <paramref name="constraint"/>.</summary>
    public static GrpoTrainer Grpo(FarmContext farm, string name, IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, IRewardSource? cost = null,
        CostConstraintSettings? constraint = null) => new(new GrpoConfig
        {
            Training = OnlineTraining(farm, name, farm.Config.Grpo.LearningRate, farm.Config.Online.Steps), Online = OnlineArguments(farm),
            Group = new() { NumGenerations = farm.Config.Grpo.NumGenerations }, Beta = farm.Config.Grpo.Beta, Cost = constraint ?? new(),
        }, farm.LoadSft(), farm.LoadSft(), Inputs(farm, prompts, reward), cost: cost);

    /// <summary>The training arguments every online method shares: equal steps and batch, a run directory and the run's seed.</summary>
    internal static TrainingArguments OnlineTraining(FarmContext farm, string name, float learningRate, int steps) => new()
    {
        OutputDir = farm.RunDir(name), MaxSteps = steps, LearningRate = learningRate, PerDeviceTrainBatchSize = farm.Config.Online.BatchSize, LoggingSteps = 2, Seed = farm.Seed,
    };

    /// <summary>Sampling as the evaluation samples (prompts and responses of the farm's lengths), with the missing-EOS penalty.</summary>
    internal static OnlineArguments OnlineArguments(FarmContext farm) => new()
    {
        Sampling = new() { MaxPromptLength = farm.MaxPromptLength, MaxCompletionLength = farm.Config.MaxResponseTokens, MissingEosPenalty = farm.Config.Online.MissingEosPenalty },
    };

    /// <summary>The online trainers' inputs: the prompts, scored by <paramref name="reward"/>, and the tokenizer saved with every checkpoint.</summary>
    internal static OnlineInputs Inputs(FarmContext farm, IReadOnlyList<PromptOnlyExample> prompts, IRewardSource reward) =>
        new(farm.Encoder, farm.Decode, reward, prompts) { WriteExtraFiles = farm.Tokenizer.Save };
}
