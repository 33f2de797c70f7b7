using Reins.Alignment.Sft;
using Reins.Farm.Pipeline;
using Reins.Models.Transformers;

namespace Reins.Farm.Stages;

/// <summary>The second stage (InstructGPT's first): the policy's base fine-tuned on the task's demonstrations, saved as "sft".</summary>
internal static class SupervisedFineTuning
{
    /// <summary>Fine-tunes <paramref name="policyBase"/> in place and saves it; every later method starts from a fresh copy (<see cref="FarmContext.LoadSft"/>).</summary>
    public static CausalLanguageModel Run(FarmContext farm, CausalLanguageModel policyBase)
    {
        var settings = farm.Config.Sft;
        var config = new SftConfig
        {
            Training = new()
            {
                OutputDir = farm.RunDir("sft"), MaxSteps = settings.Steps, LearningRate = settings.LearningRate, PerDeviceTrainBatchSize = farm.Config.BatchSize,
                LoggingSteps = 10, Seed = farm.Seed, LrSchedulerType = "cosine", WarmupRatio = settings.WarmupRatio,
            },
            MaxLength = farm.Config.Context,
        };
        return farm.Train("sft", new SftTrainer(config, policyBase, farm.Encoder, [.. farm.Task.Demonstrations(farm.Config.Demonstrations, farm.Seed)], null, farm.Tokenizer.Save));
    }
}
