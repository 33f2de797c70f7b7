using Reins.Alignment.Online;
using Reins.Models.Transformers;
using Xunit.Abstractions;

namespace Reins.Alignment.Tests.Online;

/// <summary>The fp32 memory plan of each online method, and the largest GPT-2 each fits in 24 GiB.</summary>
public class MemoryPlanTests(ITestOutputHelper output)
{
    // 4 sequences of 128 prompt + 128 completion tokens per micro-batch; 64 sequences sampled at once.
    private static readonly MemoryBatch Batch = new(MicroBatchRows: 4, PromptLength: 128, CompletionLength: 128, RolloutRows: 64);

    [Fact]
    public void CountsStatesByHand()
    {
        var config = ModelConfig.Gpt2(vocab: 100, hidden: 16, layers: 2, heads: 2, maxPositions: 32);
        long p = config.ParameterCount();
        var plan = MemoryPlan.For(OnlineMethod.Ppo, config, Batch);
        // Policy and critic: weights, gradients, two AdamW moments; reference and reward model: weights.
        Assert.Equal(4 * p * (4 + 4 + 1 + 1), plan.StateBytes);
        Assert.Equal(4 * p * (4 + 1 + 1), MemoryPlan.For(OnlineMethod.OnlineDpo, config, Batch).StateBytes);
        Assert.Equal(4 * p * (4 + 1), MemoryPlan.For(OnlineMethod.ExpertIteration, config, Batch).StateBytes);
        Assert.Equal(4 * p * 2, MemoryPlan.For(OnlineMethod.BestOfN, config, Batch).StateBytes);
        // Activations: 4 × 256 tokens × 2 layers × (8·16 + 3·64 + 2·256) floats, plus 3 × 4 × 128 × 100 at the LM head; twice for PPO.
        long training = 4L * (4 * 256 * 2 * (8 * 16 + 3 * 64 + 2 * 256) + 3 * 4 * 128 * 100);
        Assert.Equal(training, MemoryPlan.TrainingActivationBytes(config, Batch));
        Assert.Equal(Math.Max(2 * training, MemoryPlan.KvCacheBytes(config, Batch)), plan.ActivationBytes);
        Assert.Equal(4L * 2 * 2 * 64 * 256 * 16, MemoryPlan.KvCacheBytes(config, Batch));
        // Recomputed attention keeps no probabilities; checkpointing keeps each layer's input and one layer's activations.
        Assert.Equal(4L * (4 * 256 * 2 * (8 * 16 + 3 * 64) + 3 * 4 * 128 * 100), MemoryPlan.TrainingActivationBytes(config, Batch with { RecomputeAttention = true }));
        Assert.Equal(4L * (4 * 256 * (2 * 16 + 8 * 16 + 3 * 64 + 2 * 256) + 3 * 4 * 128 * 100), MemoryPlan.TrainingActivationBytes(config, Batch with { GradientCheckpointing = true }));
        // bf16: the blocks' activations at 2 bytes (the head's logits stay float32), frozen weights at 2 bytes; checkpointing
        // keeps float32 block inputs; best-of-n trains nothing and holds its models as they are.
        var bf16 = Batch with { Bf16 = true };
        Assert.Equal(2L * 4 * 256 * 2 * (8 * 16 + 3 * 64 + 2 * 256) + 4L * 3 * 4 * 128 * 100, MemoryPlan.TrainingActivationBytes(config, bf16));
        Assert.Equal(MemoryPlan.TrainingActivationBytes(config, Batch with { GradientCheckpointing = true }), MemoryPlan.TrainingActivationBytes(config, bf16 with { GradientCheckpointing = true }));
        Assert.Equal(p * (16 + 16 + 2 + 2), MemoryPlan.For(OnlineMethod.Ppo, config, bf16).StateBytes);
        Assert.Equal(4 * p * 2, MemoryPlan.For(OnlineMethod.BestOfN, config, bf16).StateBytes);
    }

    [Theory]
    [InlineData(ModelFamily.Gpt2)]
    [InlineData(ModelFamily.Llama)]
    public void CountsLoraStatesByHandAndAdaptersAsAModelMakesThem(ModelFamily family)
    {
        var config = family == ModelFamily.Gpt2 ? ModelConfig.Gpt2(vocab: 100, hidden: 16, layers: 2, heads: 2, maxPositions: 32)
            : ModelConfig.Llama(vocab: 100, hidden: 16, layers: 2, heads: 4, maxPositions: 32, kvHeads: 2);
        var model = CausalLanguageModel.Create(config, 1);
        model.AddLora(new Models.Peft.LoraConfig { R = 4 }, 1);
        long adapters = model.TrainableParameters.Sum(p => (long)p.Size), p = config.ParameterCount();
        Assert.Equal(adapters, MemoryPlan.LoraParameterCount(config, 4));
        // One shared base and the reward model's weights; gradients and two moments for the policy's and critic's adapters and the critic's head.
        Assert.Equal(4 * (2 * p + 4 * 2 * (adapters + 16)), MemoryPlan.For(OnlineMethod.Ppo, config, Batch, loraRank: 4).StateBytes);
        Assert.Equal(4 * (2 * p + 4 * (adapters + 16)), MemoryPlan.For(OnlineMethod.Grpo, config, Batch, loraRank: 4).StateBytes);
        Assert.Equal(MemoryPlan.For(OnlineMethod.BestOfN, config, Batch).StateBytes, MemoryPlan.For(OnlineMethod.BestOfN, config, Batch, loraRank: 4).StateBytes);
        // Under bf16 the shared base and the reward model are held as bf16.
        Assert.Equal(2 * 2 * p + 16 * 2 * (adapters + 16), MemoryPlan.For(OnlineMethod.Ppo, config, Batch with { Bf16 = true }, loraRank: 4).StateBytes);
    }

    [Fact]
    public void LargestGpt2ThatFitsIn24GiB()
    {
        long budget = 24 * MemoryPlan.Gibibyte;
        foreach (var method in Enum.GetValues<OnlineMethod>())
        {
            foreach (var (name, config) in MemoryPlan.Gpt2Sizes)
            {
                var plan = MemoryPlan.For(method, config, Batch);
                output.WriteLine($"{method,-18} {name,-12} {plan.ParametersPerModel / 1e6,7:F1}M  states {plan.StateBytes / (double)MemoryPlan.Gibibyte,5:F1} GiB" +
                    $"  activations {plan.ActivationBytes / (double)MemoryPlan.Gibibyte,5:F1} GiB  total {plan.TotalBytes / (double)MemoryPlan.Gibibyte,5:F1} GiB{(plan.TotalBytes <= budget ? "" : "  (over)")}");
            }
        }
        string Largest(OnlineMethod method) => MemoryPlan.Gpt2Sizes.Single(s => s.Config == MemoryPlan.Largest(method, MemoryPlan.Gpt2Sizes.Select(x => x.Config), Batch, budget)).Name;
        Assert.Equal("gpt2-medium", Largest(OnlineMethod.Ppo));
        foreach (var method in new[] { OnlineMethod.Grpo, OnlineMethod.Rloo, OnlineMethod.ReinforcePlusPlus, OnlineMethod.OnlineDpo, OnlineMethod.IterativeDpo, OnlineMethod.ExpertIteration })
            Assert.Equal("gpt2-large", Largest(method));
        Assert.Equal("gpt2-xl", Largest(OnlineMethod.BestOfN));
        // With rank-16 adapters on one shared base, PPO's states shrink from 40 bytes a parameter to 8: gpt2-large fits
        // (gpt2-xl's states would be 12 GiB, but the two trained models' activations another 15).
        Assert.Equal(MemoryPlan.Gpt2Sizes[2].Config, MemoryPlan.Largest(OnlineMethod.Ppo, MemoryPlan.Gpt2Sizes.Select(x => x.Config), Batch, budget, loraRank: 16));
        // bf16 alone leaves PPO at gpt2-medium (the trained models' float32 states dominate); bf16 with LoRA holds the base
        // and the reward model at 2 bytes a parameter and halves the blocks' activations: gpt2-xl fits.
        var bf16 = Batch with { Bf16 = true };
        Assert.Equal(MemoryPlan.Gpt2Sizes[1].Config, MemoryPlan.Largest(OnlineMethod.Ppo, MemoryPlan.Gpt2Sizes.Select(x => x.Config), bf16, budget));
        Assert.Equal(MemoryPlan.Gpt2Sizes[3].Config, MemoryPlan.Largest(OnlineMethod.Ppo, MemoryPlan.Gpt2Sizes.Select(x => x.Config), bf16, budget, loraRank: 16));
    }
}
