using Reins.Alignment.Sft;
using Reins.Farm.Pipeline;
using Reins.Feedback.Datasets;
using Reins.Models.Transformers;

namespace Reins.Farm.Stages;

/// <summary>
/// The first stage: tiny GPT-2 bases for the policy and the reward model, pre-trained from scratch on the task's corpus
/// by next-token prediction on packed blocks of the context's length (cosine schedule, weight decay).
/// </summary>
internal static class Pretraining
{
    /// <summary>The policy's base ("pretrain") and the reward model's ("pretrain-rm").</summary>
    public static (CausalLanguageModel Policy, CausalLanguageModel RewardBase) Run(FarmContext farm, IReadOnlyList<string> corpus)
    {
        var settings = farm.Config.Pretrain;
        return (Base(farm, "pretrain", farm.Config.Policy, corpus, settings.Steps), Base(farm, "pretrain-rm", farm.Config.RewardModel, corpus, settings.RewardBaseSteps));
    }

    private static CausalLanguageModel Base(FarmContext farm, string name, ModelSize size, IReadOnlyList<string> corpus, int steps)
    {
        var tokenizer = farm.Tokenizer;
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(tokenizer.VocabSize, size.Hidden, size.Layers, size.Heads, farm.Config.Context) with
        {
            BosTokenId = tokenizer.BosId, EosTokenId = tokenizer.EosId, PadTokenId = tokenizer.PadId,
        }, farm.Seed);
        var settings = farm.Config.Pretrain;
        var config = new SftConfig
        {
            Training = new()
            {
                OutputDir = farm.RunDir(name), MaxSteps = steps, LearningRate = settings.LearningRate, PerDeviceTrainBatchSize = farm.Config.BatchSize,
                LoggingSteps = 10, Seed = farm.Seed, LrSchedulerType = "cosine", WarmupRatio = settings.WarmupRatio, WeightDecay = settings.WeightDecay,
            },
            MaxLength = farm.Config.Context, Packing = true,
        };
        return farm.Train(name, new SftTrainer(config, model, farm.Encoder, [.. corpus.Select(text => new LanguageModelingExample(TextOrConversation.FromText(text)))], null,
            farm.Tokenizer.Save));
    }
}
