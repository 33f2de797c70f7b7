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

/// <summary>A method that trains a policy from the SFT model; the farm evaluates what it returns.</summary>
internal interface IPolicyMethod
{
    /// <summary>Its name in results.json and its run directory.</summary>
    string Name { get; }

    /// <summary>Trains a fresh copy of the SFT policy and returns it.</summary>
    CausalLanguageModel Train(FarmContext farm, MethodInputs inputs);
}

/// <summary>The trained methods in the order the farm runs and reports them, each with the settings of <see cref="FarmConfig"/>.</summary>
internal static class PolicyMethods
{
    /// <summary>Expert iteration, DPO, online DPO, PPO, GRPO and RLOO.</summary>
    public static IReadOnlyList<IPolicyMethod> All { get; } =
        [new ExpertIterationMethod(), new DpoMethod(), new OnlineDpoMethod(), new PpoMethod(), new GrpoMethod(), new RlooMethod()];

    /// <summary>The training arguments every online method shares: equal steps and batch, a run directory and the run's seed.</summary>
    public static TrainingArguments OnlineTraining(FarmContext farm, string name, float learningRate, int steps) => new()
    {
        OutputDir = farm.RunDir(name), MaxSteps = steps, LearningRate = learningRate, PerDeviceTrainBatchSize = farm.Config.Online.BatchSize, LoggingSteps = 2, Seed = farm.Seed,
    };

    /// <summary>Sampling as the evaluation samples (prompts and responses of the farm's lengths), with the missing-EOS penalty.</summary>
    public static OnlineArguments OnlineArguments(FarmContext farm) => new()
    {
        Sampling = new() { MaxPromptLength = farm.MaxPromptLength, MaxCompletionLength = farm.Config.MaxResponseTokens, MissingEosPenalty = farm.Config.Online.MissingEosPenalty },
    };

    /// <summary>The online trainers' inputs: the prompts, scored by <paramref name="reward"/>, and the tokenizer saved with every checkpoint.</summary>
    public static OnlineInputs Inputs(FarmContext farm, IReadOnlyList<PromptOnlyExample> prompts, IRewardSource reward) =>
        new(farm.Encoder, farm.Decode, reward, prompts) { WriteExtraFiles = farm.Tokenizer.Save };
}

/// <summary>Expert iteration on the proxy: the best of n samples imitated.</summary>
internal sealed class ExpertIterationMethod : IPolicyMethod
{
    public string Name => MethodNames.ExpertIteration;

    public CausalLanguageModel Train(FarmContext farm, MethodInputs inputs)
    {
        var settings = farm.Config.ExpertIteration;
        var config = new ExpertIterationConfig
        {
            Training = PolicyMethods.OnlineTraining(farm, Name, settings.LearningRate, farm.Config.Online.Steps), Online = PolicyMethods.OnlineArguments(farm),
            Group = new() { NumGenerations = settings.NumGenerations }, KeepTop = settings.KeepTop,
        };
        return farm.Train(Name, new ExpertIterationTrainer(config, farm.LoadSft(), PolicyMethods.Inputs(farm, inputs.Prompts, inputs.Proxy)));
    }
}

/// <summary>Offline DPO on the annotated pairs, against the SFT policy.</summary>
internal sealed class DpoMethod : IPolicyMethod
{
    public string Name => MethodNames.Dpo;

    public CausalLanguageModel Train(FarmContext farm, MethodInputs inputs)
    {
        var settings = farm.Config.Dpo;
        var config = new DpoConfig
        {
            Training = new()
            {
                OutputDir = farm.RunDir(Name), MaxSteps = settings.Steps, LearningRate = settings.LearningRate, PerDeviceTrainBatchSize = farm.Config.BatchSize, LoggingSteps = 5,
                Seed = farm.Seed,
            },
            Data = new() { MaxLength = farm.Config.Context, MaxPromptLength = farm.MaxPromptLength, MaxCompletionLength = farm.Config.MaxResponseTokens },
            Loss = new() { Beta = settings.Beta },
        };
        return farm.Train(Name, new DpoTrainer(config, farm.LoadSft(), farm.LoadSft(), farm.Encoder, inputs.Preferences, null, farm.Tokenizer.Save));
    }
}

/// <summary>Online DPO (OAIF): each step's two samples per prompt judged by the reward model, the same proxy PPO optimises.</summary>
internal sealed class OnlineDpoMethod : IPolicyMethod
{
    public string Name => MethodNames.OnlineDpo;

    public CausalLanguageModel Train(FarmContext farm, MethodInputs inputs)
    {
        var settings = farm.Config.OnlineDpo;
        var config = new OnlineDpoConfig
        {
            Training = PolicyMethods.OnlineTraining(farm, Name, settings.LearningRate, farm.Config.Online.Steps), Online = PolicyMethods.OnlineArguments(farm),
            Loss = new() { Beta = settings.Beta },
        };
        return farm.Train(Name, new OnlineDpoTrainer(config, farm.LoadSft(), farm.LoadSft(), PolicyMethods.Inputs(farm, inputs.Prompts, inputs.Proxy)));
    }
}

/// <summary>PPO with a critic started from the proxy reward model, against the SFT policy.</summary>
internal sealed class PpoMethod : IPolicyMethod
{
    public string Name => MethodNames.Ppo;

    public CausalLanguageModel Train(FarmContext farm, MethodInputs inputs) =>
        Train(farm, Name, farm.Config.Ppo.KlCoef, farm.Config.Online.Steps, inputs.OnlineReward, inputs.Critic, inputs.Prompts, afterStep: null);

    /// <summary>
    /// A PPO run of <paramref name="steps"/> steps with KL coefficient <paramref name="klCoef"/> on <paramref name="reward"/>,
    /// calling <paramref name="afterStep"/> with the step and the policy after each (the over-optimisation study's checkpoints).
    /// </summary>
    public static CausalLanguageModel Train(FarmContext farm, string name, float klCoef, int steps, IRewardSource reward, RewardModel critic,
        IReadOnlyList<PromptOnlyExample> prompts, Action<long, CausalLanguageModel>? afterStep)
    {
        var settings = farm.Config.Ppo;
        var config = new PpoConfig
        {
            Training = PolicyMethods.OnlineTraining(farm, name, settings.LearningRate, steps), Online = PolicyMethods.OnlineArguments(farm),
            KlCoef = klCoef, CriticLearningRate = settings.CriticLearningRate,
        };
        var policy = farm.LoadSft();
        var trainer = new PpoTrainer(config, policy, farm.LoadSft(), FarmContext.Clone(critic.Network), PolicyMethods.Inputs(farm, prompts, reward));
        return farm.Train(name, trainer, step => afterStep?.Invoke(step, policy), ["reward", "objective/kl"]);
    }
}

/// <summary>GRPO on the online reward.</summary>
internal sealed class GrpoMethod : IPolicyMethod
{
    public string Name => MethodNames.Grpo;

    public CausalLanguageModel Train(FarmContext farm, MethodInputs inputs)
    {
        var settings = farm.Config.Grpo;
        var config = new GrpoConfig
        {
            Training = PolicyMethods.OnlineTraining(farm, Name, settings.LearningRate, farm.Config.Online.Steps), Online = PolicyMethods.OnlineArguments(farm),
            Group = new() { NumGenerations = settings.NumGenerations },
        };
        return farm.Train(Name, new GrpoTrainer(config, farm.LoadSft(), farm.LoadSft(), PolicyMethods.Inputs(farm, inputs.Prompts, inputs.OnlineReward)));
    }
}

/// <summary>RLOO on the online reward.</summary>
internal sealed class RlooMethod : IPolicyMethod
{
    public string Name => MethodNames.Rloo;

    public CausalLanguageModel Train(FarmContext farm, MethodInputs inputs)
    {
        var settings = farm.Config.Rloo;
        var config = new RlooConfig
        {
            Training = PolicyMethods.OnlineTraining(farm, Name, settings.LearningRate, farm.Config.Online.Steps), Online = PolicyMethods.OnlineArguments(farm),
            Group = new() { NumGenerations = settings.NumGenerations },
        };
        return farm.Train(Name, new RlooTrainer(config, farm.LoadSft(), farm.LoadSft(), PolicyMethods.Inputs(farm, inputs.Prompts, inputs.OnlineReward)));
    }
}
