using Reins.Alignment.Training;
using Reins.Models.Transformers;
using Xunit.Abstractions;

namespace Reins.Alignment.Tests;

/// <summary>The memory plan of each method counted by hand, and the largest GPT-2 and Llama each fits in 24 GiB.</summary>
[Collection(nameof(BufferPoolCounting))]
public class MemoryPlanTests(ITestOutputHelper output)
{
    // 4 examples of 128 prompt + 128 completion tokens per micro-batch; 64 sequences sampled at once.
    private static readonly MemoryBatch Batch = new(MicroBatchRows: 4, PromptLength: 128, CompletionLength: 128, RolloutRows: 64);

    [Fact]
    public void CountsStatesByHand()
    {
        var config = ModelConfig.Gpt2(vocab: 100, hidden: 16, layers: 2, heads: 2, maxPositions: 32);
        long p = config.ParameterCount();
        // Policy and critic: weights, gradients, two AdamW moments; reference and reward model: weights.
        Assert.Equal(4 * p * (4 + 4 + 1 + 1), MemoryPlan.For(PlannedMethod.Ppo, config, Batch).StateBytes);
        Assert.Equal(4 * p * (4 + 1 + 1), MemoryPlan.For(PlannedMethod.OnlineDpo, config, Batch).StateBytes);
        Assert.Equal(4 * p * (4 + 1), MemoryPlan.For(PlannedMethod.ExpertIteration, config, Batch).StateBytes);
        Assert.Equal(4 * p * (4 + 1), MemoryPlan.For(PlannedMethod.Dpo, config, Batch).StateBytes);
        Assert.Equal(4 * p * 4, MemoryPlan.For(PlannedMethod.Sft, config, Batch).StateBytes);
        // A reward model is made from its language model, held while the copy is made.
        Assert.Equal(4 * p * (4 + 1), MemoryPlan.For(PlannedMethod.RewardModel, config, Batch).StateBytes);
        Assert.Equal(4 * p * 2, MemoryPlan.For(PlannedMethod.BestOfN, config, Batch).StateBytes);
        // bf16: frozen weights at 2 bytes (read straight into bf16); best-of-n holds its models as they are; SFT holds
        // nothing frozen; a reward model with a bf16 LoRA base is read as float32 first.
        var bf16 = Batch with { Bf16 = true };
        Assert.Equal(p * (16 + 16 + 2 + 2), MemoryPlan.For(PlannedMethod.Ppo, config, bf16).StateBytes);
        Assert.Equal(p * (16 + 2), MemoryPlan.For(PlannedMethod.Kto, config, bf16).StateBytes);
        Assert.Equal(p * (2 + 4 + 2) + 16 * (MemoryPlan.LoraParameterCount(config, 4) + 16), MemoryPlan.For(PlannedMethod.RewardModel, config, bf16, loraRank: 4).StateBytes);
        Assert.Equal(p * 16, MemoryPlan.For(PlannedMethod.Sft, config, bf16).StateBytes);
        Assert.Equal(4 * p * 2, MemoryPlan.For(PlannedMethod.BestOfN, config, bf16).StateBytes);
        Assert.Equal(MemoryPlan.RuntimeBytes + 4 * p * 4 + MemoryPlan.For(PlannedMethod.Sft, config, Batch).ActivationBytes, MemoryPlan.For(PlannedMethod.Sft, config, Batch).TotalBytes);
    }

    [Fact]
    public void CountsActivationsByHand()
    {
        var gpt2 = ModelConfig.Gpt2(vocab: 100, hidden: 16, layers: 2, heads: 2, maxPositions: 32);
        // Per layer and token: 10·16 + 2·64 floats and 2 heads × 256 probabilities; 4 × 256 tokens × 2 layers.
        long perLayer = 10 * 16 + 2 * 64 + 2 * 256, blocks = 4L * 4 * 256 * 2 * perLayer;
        // SFT's head at every position, the online methods' at the completion's, a reward model's none; pairs double the rows.
        Assert.Equal(blocks + 4L * 3 * 4 * 256 * 100, MemoryPlan.TrainingActivationBytes(PlannedMethod.Sft, gpt2, Batch));
        Assert.Equal(blocks + 4L * 3 * 4 * 128 * 100, MemoryPlan.TrainingActivationBytes(PlannedMethod.Grpo, gpt2, Batch));
        Assert.Equal(2 * blocks, MemoryPlan.TrainingActivationBytes(PlannedMethod.RewardModel, gpt2, Batch));
        Assert.Equal(2 * (blocks + 4L * 3 * 4 * 256 * 100), MemoryPlan.TrainingActivationBytes(PlannedMethod.Dpo, gpt2, Batch));
        // The online methods add the rollout's KV cache (the pool keeps it between rollouts); one backward at a time for PPO.
        long kv = 4L * 2 * 2 * 64 * 256 * 16;
        Assert.Equal(kv, MemoryPlan.KvCacheBytes(gpt2, Batch));
        Assert.Equal(MemoryPlan.TrainingActivationBytes(PlannedMethod.Ppo, gpt2, Batch) + kv, MemoryPlan.For(PlannedMethod.Ppo, gpt2, Batch).ActivationBytes);
        Assert.Equal(kv, MemoryPlan.For(PlannedMethod.BestOfN, gpt2, Batch).ActivationBytes);
        // Recomputed attention keeps no probabilities; checkpointing keeps each layer's input and one layer's activations.
        Assert.Equal(4L * 4 * 256 * 2 * (perLayer - 2 * 256) + 4L * 3 * 4 * 256 * 100, MemoryPlan.TrainingActivationBytes(PlannedMethod.Sft, gpt2, Batch with { RecomputeAttention = true }));
        Assert.Equal(4L * 4 * 256 * (2 * 16 + perLayer) + 4L * 3 * 4 * 256 * 100, MemoryPlan.TrainingActivationBytes(PlannedMethod.Sft, gpt2, Batch with { GradientCheckpointing = true }));
        // bf16: the blocks' activations at 2 bytes but their outputs at 4; the head stays float32; checkpointing is unchanged.
        var bf16 = Batch with { Bf16 = true };
        Assert.Equal(4L * 256 * 2 * (2 * (perLayer - 16) + 4 * 16) + 4L * 3 * 4 * 256 * 100, MemoryPlan.TrainingActivationBytes(PlannedMethod.Sft, gpt2, bf16));
        Assert.Equal(MemoryPlan.TrainingActivationBytes(PlannedMethod.Sft, gpt2, Batch with { GradientCheckpointing = true }), MemoryPlan.TrainingActivationBytes(PlannedMethod.Sft, gpt2, bf16 with { GradientCheckpointing = true }));
        // Llama: 9·d + 3·kv + 4·ffn (rotary copies, the SwiGLU gate), kv the keys' width under grouped-query attention.
        var llama = ModelConfig.Llama(vocab: 100, hidden: 16, layers: 2, heads: 4, maxPositions: 32, kvHeads: 2, intermediate: 40);
        long llamaLayer = 9 * 16 + 3 * 8 + 4 * 40 + 4 * 256;
        Assert.Equal(4L * 4 * 256 * 2 * llamaLayer + 4L * 3 * 4 * 128 * 100, MemoryPlan.TrainingActivationBytes(PlannedMethod.Grpo, llama, Batch));
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
        // One shared base and the reward model's weights; gradients and two moments for the policy's and critic's adapters and a score head.
        Assert.Equal(4 * (2 * p + 4 * 2 * (adapters + 16)), MemoryPlan.For(PlannedMethod.Ppo, config, Batch, loraRank: 4).StateBytes);
        Assert.Equal(4 * (2 * p + 4 * (adapters + 16)), MemoryPlan.For(PlannedMethod.Grpo, config, Batch, loraRank: 4).StateBytes);
        // DPO's reference is the base with its adapters off: one base.
        Assert.Equal(4 * (p + 4 * (adapters + 16)), MemoryPlan.For(PlannedMethod.Dpo, config, Batch, loraRank: 4).StateBytes);
        Assert.Equal(MemoryPlan.For(PlannedMethod.BestOfN, config, Batch).StateBytes, MemoryPlan.For(PlannedMethod.BestOfN, config, Batch, loraRank: 4).StateBytes);
        // Under bf16 the shared base and the reward model are held as bf16.
        Assert.Equal(2 * 2 * p + 16 * 2 * (adapters + 16), MemoryPlan.For(PlannedMethod.Ppo, config, Batch with { Bf16 = true }, loraRank: 4).StateBytes);
    }

    [Theory]
    [InlineData(ModelFamily.Gpt2, 0f)]
    [InlineData(ModelFamily.Gpt2, 0.1f)]
    [InlineData(ModelFamily.Llama, 0.1f)]
    public void CountsLoraActivationsAsAForwardAllocatesThem(ModelFamily family, float dropout)
    {
        // Every buffer a recorded forward allocates comes from the pool and goes back to it when its tape ends: what the
        // adapted model's forward leaves pooled beyond the plain model's is what its adapters kept.
        var config = family == ModelFamily.Gpt2 ? ModelConfig.Gpt2(vocab: 100, hidden: 16, layers: 2, heads: 2, maxPositions: 32)
            : ModelConfig.Llama(vocab: 100, hidden: 16, layers: 2, heads: 4, maxPositions: 32, kvHeads: 2);
        var input = new ModelInput([.. Enumerable.Range(0, 3 * 10).Select(i => i * 7 % 100)], 3, 10);
        long Kept(CausalLanguageModel model)
        {
            Tensors.BufferPool.Trim();
            using (new Tensors.Tape())
            {
                model.Lora?.SeedDropout(1);
                model.Hidden(input);
            }
            return Tensors.BufferPool.PooledFloats;
        }
        var adapted = CausalLanguageModel.Create(config, 1);
        adapted.AddLora(new Models.Peft.LoraConfig { R = 4, Dropout = dropout }, 1);
        long plain = Kept(CausalLanguageModel.Create(config, 1));
        var (values, masks) = MemoryPlan.LoraActivationsPerLayerAndToken(config, 4, dropout > 0);
        Assert.Equal(3L * 10 * config.Layers * (values + masks), Kept(adapted) - plain);
        Assert.Equal(dropout > 0 ? (family == ModelFamily.Gpt2 ? 1 : 2) * 16 : 0, masks);
    }

    [Fact]
    public void LargestGpt2AndLlamaThatFitIn24GiB()
    {
        long budget = 24 * MemoryPlan.Gibibyte;
        var settings = new (string Name, MemoryBatch Batch, int Rank)[] { ("float32", Batch, 0), ("bf16", Batch with { Bf16 = true }, 0), ("bf16 + LoRA r 16", Batch with { Bf16 = true }, 16) };
        string Largest(PlannedMethod method, IReadOnlyList<(string Name, ModelConfig Config)> sizes, MemoryBatch batch, int rank) =>
            MemoryPlan.Largest(method, sizes.Select(s => s.Config), batch, budget, rank) is { } fits ? sizes.Single(s => s.Config == fits).Name : "none";
        output.WriteLine($"{"method",-18} {string.Join(" ", settings.Select(s => $"{s.Name,-34}"))}");
        foreach (var method in Enum.GetValues<PlannedMethod>())
            output.WriteLine($"{method,-18} {string.Join(" ", settings.Select(s => $"{Largest(method, MemoryPlan.Gpt2Sizes, s.Batch, s.Rank) + " / " + Largest(method, MemoryPlan.LlamaSizes, s.Batch, s.Rank),-34}"))}");
        // Float32 PPO holds 40 bytes a parameter of states: gpt2-medium; LoRA on one bf16 base takes it to gpt2-xl.
        Assert.Equal("gpt2-medium", Largest(PlannedMethod.Ppo, MemoryPlan.Gpt2Sizes, Batch, 0));
        Assert.Equal("gpt2-xl", Largest(PlannedMethod.Ppo, MemoryPlan.Gpt2Sizes, Batch with { Bf16 = true }, 16));
        // SFT holds one model; GRPO adds a reference, a reward model and the rollout's cache.
        Assert.Equal("gpt2-large", Largest(PlannedMethod.Sft, MemoryPlan.Gpt2Sizes, Batch, 0));
        Assert.Equal("gpt2-medium", Largest(PlannedMethod.Grpo, MemoryPlan.Gpt2Sizes, Batch, 0));
        Assert.Equal("gpt2-xl", Largest(PlannedMethod.BestOfN, MemoryPlan.Gpt2Sizes, Batch, 0));
        // Llama: 1.2B parameters × 16 bytes for float32 SFT; with bf16 + LoRA a 7B base read straight into bf16 fits, and
        // Llama-3.1-8B's (16 GB) only without lora_dropout, whose dropped inputs and masks tip it over;
        // DPO's doubled rows and GRPO's reward model stop at 3B.
        Assert.Equal("Llama-3.2-1B", Largest(PlannedMethod.Sft, MemoryPlan.LlamaSizes, Batch, 0));
        Assert.Equal("Llama-2-7B", Largest(PlannedMethod.Sft, MemoryPlan.LlamaSizes, Batch with { Bf16 = true }, 16));
        Assert.Equal("Llama-3.1-8B", MemoryPlan.Largest(PlannedMethod.Sft, MemoryPlan.LlamaSizes.Select(s => s.Config), Batch with { Bf16 = true }, budget, 16, loraDropout: 0) is { } fits
            ? MemoryPlan.LlamaSizes.Single(s => s.Config == fits).Name : "none");
        Assert.Equal("Llama-3.2-3B", Largest(PlannedMethod.Dpo, MemoryPlan.LlamaSizes, Batch with { Bf16 = true }, 16));
        Assert.Equal("Llama-3.2-3B", Largest(PlannedMethod.Grpo, MemoryPlan.LlamaSizes, Batch with { Bf16 = true }, 16));
    }
}

/// <summary>Tests that count what Reins' buffer pool holds, which other tests' allocations would disturb: run alone.</summary>
[CollectionDefinition(nameof(BufferPoolCounting), DisableParallelization = true)]
public sealed class BufferPoolCounting;
