using Reins.Models.Transformers;

namespace Reins.Alignment.Online;

/// <summary>The methods <see cref="MemoryPlan"/> knows, told apart by the models each keeps in memory.</summary>
public enum OnlineMethod
{
    /// <summary>Policy and critic trained; reference and reward model frozen.</summary>
    Ppo,
    /// <summary>Policy trained; reference (β &gt; 0) and reward model frozen.</summary>
    Grpo,
    /// <summary>As GRPO.</summary>
    Rloo,
    /// <summary>As GRPO.</summary>
    ReinforcePlusPlus,
    /// <summary>Policy trained; reference and reward model frozen.</summary>
    OnlineDpo,
    /// <summary>Policy trained; reference and reward model frozen (the reward model stays loaded between passes).</summary>
    IterativeDpo,
    /// <summary>Policy trained; reward model frozen; no reference.</summary>
    ExpertIteration,
    /// <summary>Policy and reward model, inference only.</summary>
    BestOfN,
}

/// <summary>The batch shape that activations are estimated for.</summary>
/// <param name="MicroBatchRows">Sequences per forward and backward (per_device_train_batch_size).</param>
/// <param name="PromptLength">Prompt tokens per sequence.</param>
/// <param name="CompletionLength">Completion tokens per sequence.</param>
/// <param name="RolloutRows">Sequences sampled at once with the KV cache.</param>
/// <param name="GradientCheckpointing">Training keeps each block's input only, recomputing one block's activations at a time.</param>
/// <param name="RecomputeAttention">Training keeps no attention probabilities.</param>
/// <param name="Bf16">bf16 (TRL's flag): the blocks' saved activations take 2 bytes an element, frozen weights (reference, reward model, LoRA base) 2 bytes a parameter.</param>
public sealed record MemoryBatch(int MicroBatchRows, int PromptLength, int CompletionLength, int RolloutRows, bool GradientCheckpointing = false, bool RecomputeAttention = false,
    bool Bf16 = false);

/// <summary>
/// fp32 memory of an online method whose models (policy, critic, reference, reward model) all share one config: a
/// trained model holds weights, gradients and AdamW's two moments (16 bytes a parameter), a frozen one its weights
/// (4 bytes); on top, the larger of the training activations (one micro-batch through every trained model) and the
/// rollout's KV cache. The activation count is rough — what a GPT-2 block saves for its backward, per layer and
/// token: 8·d + 3·ffn floats (norm, attention and MLP inputs and outputs) and heads·T attention probabilities, plus
/// logits, softmax and gradient at the completion positions of the LM head — and leaves out allocator slack.
/// With 24 GiB, 4 sequences of 128 + 128 tokens per micro-batch and 64-sequence rollouts, of GPT-2's sizes
/// (<see cref="Gpt2Sizes"/>): PPO fits gpt2-medium (355M; 774M would need 40 bytes × 774M = 31 GB of states alone),
/// GRPO, RLOO, REINFORCE++, online and iterative DPO and expert iteration fit gpt2-large (774M), and best-of-n
/// gpt2-xl (1.5B) (tests/Reins.Alignment.Tests/Online/MemoryPlanTests.cs prints the table). With LoRA
/// (<paramref name="LoraRank"/> &gt; 0, PEFT's default targets) the policy, its reference and PPO's critic are one frozen
/// base, the reward model a second copy, and only the adapters (and the critic's head) carry gradients and moments.
/// With <see cref="MemoryBatch.Bf16"/> the frozen weights take 2 bytes a parameter and the blocks' saved activations 2 an
/// element (the LM head's logits and the float32 masters, gradients and moments of what trains are unchanged).
/// </summary>
/// <param name="Method">The method planned for.</param>
/// <param name="ParametersPerModel">Parameters of each model.</param>
/// <param name="TrainedModels">Models with gradients and optimiser state.</param>
/// <param name="FrozenModels">Models with weights only.</param>
/// <param name="StateBytes">Weights, gradients and optimiser moments of every model.</param>
/// <param name="ActivationBytes">The larger of the training activations and the rollout's KV cache.</param>
/// <param name="LoraRank">The adapters' rank, or 0 for full fine-tuning.</param>
public sealed record MemoryPlan(OnlineMethod Method, long ParametersPerModel, int TrainedModels, int FrozenModels, long StateBytes, long ActivationBytes, int LoraRank = 0)
{
    /// <summary>2³⁰ bytes.</summary>
    public const long Gibibyte = 1L << 30;

    /// <summary>Everything the plan counts.</summary>
    public long TotalBytes => StateBytes + ActivationBytes;

    /// <summary>The trained and frozen models a method keeps in memory.</summary>
    public static (int Trained, int Frozen) Models(OnlineMethod method) => method switch
    {
        OnlineMethod.Ppo => (2, 2),
        OnlineMethod.ExpertIteration => (1, 1),
        OnlineMethod.BestOfN => (0, 2),
        _ => (1, 2),
    };

    /// <summary>
    /// The plan of <paramref name="method"/> with models of <paramref name="model"/>'s config on <paramref name="batch"/>,
    /// training LoRA adapters of rank <paramref name="loraRank"/> (0 = every weight).
    /// </summary>
    public static MemoryPlan For(OnlineMethod method, ModelConfig model, MemoryBatch batch, int loraRank = 0)
    {
        var (trained, frozen) = Models(method);
        long parameters = model.ParameterCount();
        // The backward still needs every activation with LoRA (the input gradients flow through the frozen layers).
        long activations = Math.Max(trained * TrainingActivationBytes(model, batch), KvCacheBytes(model, batch));
        // Training arguments' bf16 holds a run's frozen models as bf16; best-of-n trains nothing and takes no such flag.
        long frozenBytes = batch.Bf16 && trained > 0 ? 2 : 4;
        long states = trained == 0 || loraRank == 0 ? parameters * (16L * trained + frozenBytes * frozen)
            : frozenBytes * 2 * parameters + 16L * trained * (LoraParameterCount(model, loraRank) + model.HiddenSize);
        return new MemoryPlan(method, parameters, trained, frozen, states, activations, trained == 0 ? 0 : loraRank);
    }

    /// <summary>Parameters of rank-<paramref name="rank"/> adapters on PEFT's default targets: GPT-2's c_attn, the Llama family's q_proj and v_proj.</summary>
    public static long LoraParameterCount(ModelConfig model, int rank)
    {
        long d = model.HiddenSize;
        long perLayer = model.Family == ModelFamily.Gpt2 ? d + 3 * d : (d + model.Heads * model.HeadDim) + (d + model.KvHeads * model.HeadDim);
        return rank * perLayer * model.Layers;
    }

    /// <summary>
    /// What one micro-batch's forward through one trained model keeps for the backward (rough; see the type's summary):
    /// with gradient checkpointing each layer's input and one layer's activations (the one being recomputed), without
    /// the attention probabilities when they are recomputed; the blocks' activations at 2 bytes under bf16 (checkpointing's
    /// kept inputs and recomputed block are float32).
    /// </summary>
    public static long TrainingActivationBytes(ModelConfig model, MemoryBatch batch)
    {
        long time = batch.PromptLength + batch.CompletionLength, tokens = batch.MicroBatchRows * time;
        long perLayerAndToken = 8L * model.HiddenSize + 3L * model.IntermediateSize + (batch.RecomputeAttention ? 0 : model.Heads * time);
        long head = 3L * batch.MicroBatchRows * batch.CompletionLength * model.VocabSize;
        long layers = batch.GradientCheckpointing ? tokens * (model.Layers * (long)model.HiddenSize + perLayerAndToken) : tokens * model.Layers * perLayerAndToken;
        return (batch.Bf16 && !batch.GradientCheckpointing ? 2 : 4) * layers + 4 * head;
    }

    /// <summary>Keys and values of every layer for the sequences sampled at once.</summary>
    public static long KvCacheBytes(ModelConfig model, MemoryBatch batch) =>
        4L * 2 * model.Layers * batch.RolloutRows * (batch.PromptLength + batch.CompletionLength) * model.KvHeads * model.HeadDim;

    /// <summary>The candidate with the most parameters whose plan fits <paramref name="budgetBytes"/>, or null when none does.</summary>
    public static ModelConfig? Largest(OnlineMethod method, IEnumerable<ModelConfig> candidates, MemoryBatch batch, long budgetBytes, int loraRank = 0) =>
        candidates.Where(c => For(method, c, batch, loraRank).TotalBytes <= budgetBytes).MaxBy(c => c.ParameterCount());

    /// <summary>GPT-2's published sizes (Radford et al. 2019): 124M, 355M, 774M and 1.5B parameters, 1024 positions.</summary>
    public static IReadOnlyList<(string Name, ModelConfig Config)> Gpt2Sizes { get; } =
    [
        ("gpt2", ModelConfig.Gpt2(50257, 768, 12, 12, 1024)),
        ("gpt2-medium", ModelConfig.Gpt2(50257, 1024, 24, 16, 1024)),
        ("gpt2-large", ModelConfig.Gpt2(50257, 1280, 36, 20, 1024)),
        ("gpt2-xl", ModelConfig.Gpt2(50257, 1600, 48, 25, 1024)),
    ];
}
