using Reins.Models.Transformers;

namespace Reins.Alignment.Training;

/// <summary>The methods <see cref="MemoryPlan"/> knows, told apart by the models each keeps and the sequences each trains on.</summary>
public enum PlannedMethod
{
    /// <summary>Policy trained on each sequence's tokens.</summary>
    Sft,
    /// <summary>Reward model trained on pairs (chosen and rejected through one forward); no language-model head.</summary>
    RewardModel,
    /// <summary>Policy trained on pairs; reference frozen.</summary>
    Dpo,
    /// <summary>Policy trained; reference frozen; the KL batch's passes without gradients.</summary>
    Kto,
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
    /// <summary>Policy trained on pairs; reference and reward model frozen (the reward model stays loaded between passes).</summary>
    IterativeDpo,
    /// <summary>Policy trained; reward model frozen; no reference.</summary>
    ExpertIteration,
    /// <summary>Policy and reward model, inference only.</summary>
    BestOfN,
}

/// <summary>The batch shape that activations are estimated for.</summary>
/// <param name="MicroBatchRows">Examples per forward and backward (per_device_train_batch_size): sequences, or pairs for the pairwise methods.</param>
/// <param name="PromptLength">Prompt tokens per sequence.</param>
/// <param name="CompletionLength">Completion tokens per sequence.</param>
/// <param name="RolloutRows">Sequences sampled at once with the KV cache (online methods).</param>
/// <param name="GradientCheckpointing">Training keeps each block's input only, recomputing one block's activations at a time.</param>
/// <param name="RecomputeAttention">Training keeps no attention probabilities.</param>
/// <param name="Bf16">bf16 (TRL's flag): the blocks' saved activations take 2 bytes an element, frozen weights (reference, reward model, LoRA base) 2 bytes a parameter.</param>
public sealed record MemoryBatch(int MicroBatchRows, int PromptLength, int CompletionLength, int RolloutRows, bool GradientCheckpointing = false, bool RecomputeAttention = false,
    bool Bf16 = false);

/// <summary>
/// The memory a training run of a method needs, every model sharing one config — what the process holds at its peak,
/// counted from what Reins allocates, and checked against real runs' peak RSS (BENCHMARKS.md; tools/memory_plan_runs.sh):
/// <list type="bullet">
/// <item>The runtime: .NET, Reins and a 50k-token BPE tokenizer, <see cref="RuntimeBytes"/> (measured).</item>
/// <item>States: a trained model's weights, gradients and AdamW's two moments (16 bytes a parameter), a frozen one's
/// weights (4, or 2 under bf16). With LoRA (<see cref="LoraRank"/> &gt; 0, PEFT's default targets) the policy, its
/// reference and PPO's critic are one frozen base, a reward model a second, and only the adapters (and a score head)
/// train. Frozen weights held as bf16 are read from the checkpoint straight into bf16; a reward model being trained is
/// made from its language model, held while the copy is made (+4 bytes a parameter; +6 with a bf16 LoRA base, read as
/// float32 first).</item>
/// <item>Activations: what one micro-batch's forward keeps for the backward — per layer and token, GPT-2's
/// 10·d + 2·ffn floats (norm, attention and MLP inputs and outputs, the block's output) and Llama's 9·d + 3·kv + 4·ffn
/// (kv = the keys' and values' width; rotary copies and the SwiGLU gate), plus heads·T attention probabilities and
/// what LoRA's adapted layers add (<see cref="LoraActivationsPerLayerAndToken"/>) —, and the language-model head's
/// logits, softmax and gradient at the positions the loss reads. One trained model's forward and backward run at a time
/// (PPO's critic's after its policy's, <see cref="StepOutput.Next"/>). A forward without gradients (a reference's, a reward
/// model's) holds one block at a time (<see cref="Tensors.Ops.Scoped"/>), and its logits reuse the training pass's buffers.</item>
/// <item>The rollout's KV cache, on top for the online methods: buffers go back to Reins' pool, which keeps them for the next rollout.</item>
/// </list>
/// With 24 GiB, 4 examples of 128 + 128 tokens a micro-batch and 64-sequence rollouts, the table in
/// tests/Reins.Alignment.Tests/MemoryPlanTests.cs (and `reins memory-plan`) lists the largest GPT-2 and Llama
/// size each method fits in float32, bf16 and bf16 + LoRA.
/// </summary>
/// <param name="Method">The method planned for.</param>
/// <param name="ParametersPerModel">Parameters of each model.</param>
/// <param name="TrainedModels">Models with gradients and optimiser state.</param>
/// <param name="FrozenModels">Models with weights only.</param>
/// <param name="StateBytes">Weights, gradients and optimiser moments of every model, and a reward model's source.</param>
/// <param name="ActivationBytes">The training activations, and the rollout's KV cache.</param>
/// <param name="LoraRank">The adapters' rank, or 0 for full fine-tuning.</param>
public sealed record MemoryPlan(PlannedMethod Method, long ParametersPerModel, int TrainedModels, int FrozenModels, long StateBytes, long ActivationBytes, int LoraRank = 0)
{
    /// <summary>2³⁰ bytes.</summary>
    public const long Gibibyte = 1L << 30;

    /// <summary>
    /// The process before any model: the .NET runtime and Reins (77 MiB, peak RSS of a 2-step `reins sft` on a 150k-parameter
    /// model) and a 50k-token BPE tokenizer (85 MiB: `reins tokenize` with GPT-2's vocabulary against a 512-token one).
    /// </summary>
    public const long RuntimeBytes = 160L << 20;

    /// <summary>Everything the plan counts.</summary>
    public long TotalBytes => RuntimeBytes + StateBytes + ActivationBytes;

    /// <summary>The trained and frozen models a method keeps in memory.</summary>
    public static (int Trained, int Frozen) Models(PlannedMethod method) => method switch
    {
        PlannedMethod.Sft or PlannedMethod.RewardModel => (1, 0),
        PlannedMethod.Dpo or PlannedMethod.Kto => (1, 1),
        PlannedMethod.Ppo => (2, 2),
        PlannedMethod.ExpertIteration => (1, 1),
        PlannedMethod.BestOfN => (0, 2),
        _ => (1, 2),
    };

    /// <summary>Whether the method samples completions and scores them with a reward model.</summary>
    public static bool IsOnline(PlannedMethod method) => method is not (PlannedMethod.Sft or PlannedMethod.RewardModel or PlannedMethod.Dpo or PlannedMethod.Kto);

    /// <summary>
    /// The plan of <paramref name="method"/> with models of <paramref name="model"/>'s config on <paramref name="batch"/>,
    /// training LoRA adapters of rank <paramref name="loraRank"/> (0 = every weight) with lora_dropout <paramref name="loraDropout"/>.
    /// </summary>
    public static MemoryPlan For(PlannedMethod method, ModelConfig model, MemoryBatch batch, int loraRank = 0, float loraDropout = DefaultLoraDropout)
    {
        var (trained, frozen) = Models(method);
        long parameters = model.ParameterCount();
        // Training arguments' bf16 holds a run's frozen models as bf16; best-of-n trains nothing and takes no such flag.
        bool bf16Frozen = batch.Bf16 && trained > 0;
        long frozenBytes = bf16Frozen ? 2 : 4;
        bool lora = trained > 0 && loraRank > 0;
        // With LoRA the trained models and the reference are adapters on one base; a reward model is a second frozen copy.
        int heldFrozen = lora ? 1 + (IsOnline(method) ? 1 : 0) : frozen;
        long states = frozenBytes * heldFrozen * parameters
            + 16L * trained * (lora ? LoraParameterCount(model, loraRank) + model.HiddenSize : parameters);
        // A reward model is made from its language model, held while the copy is made, and read as float32 even where
        // its LoRA base is then held as bf16 (every other frozen model is read straight into bf16).
        if (method == PlannedMethod.RewardModel) states += (lora && bf16Frozen ? 6 : 4) * parameters;
        long activations = trained == 0 ? 0 : TrainingActivationBytes(method, model, batch, lora ? loraRank : 0, loraDropout);
        if (IsOnline(method)) activations += KvCacheBytes(model, batch);
        return new MemoryPlan(method, parameters, trained, frozen, states, activations, lora ? loraRank : 0);
    }

    /// <summary>PEFT's lora_dropout default, which <see cref="For"/> plans for unless told otherwise.</summary>
    public const float DefaultLoraDropout = 0.05f;

    /// <summary>Parameters of rank-<paramref name="rank"/> adapters on PEFT's default targets: GPT-2's c_attn, the Llama family's q_proj and v_proj.</summary>
    public static long LoraParameterCount(ModelConfig model, int rank) => rank * model.Layers * LoraTargets(model).Sum(t => t.Inputs + t.Outputs);

    /// <summary>
    /// What the adapted layers keep per layer and token beyond each layer's own output (PEFT's default targets): the
    /// base's output and the adapter's, each as wide as the layer's output, the adapter's r activations and their
    /// scaling, and under lora_dropout the dropped input and its mask. Masks stay float32 under bf16.
    /// </summary>
    public static (long Values, long Masks) LoraActivationsPerLayerAndToken(ModelConfig model, int rank, bool dropout)
    {
        long values = 0, masks = 0;
        foreach (var (inputs, outputs) in LoraTargets(model))
        {
            values += 2 * outputs + 2L * rank + (dropout ? inputs : 0);
            masks += dropout ? inputs : 0;
        }
        return (values, masks);
    }

    // The inputs and outputs of each layer PEFT adapts by default.
    private static (long Inputs, long Outputs)[] LoraTargets(ModelConfig model) => model.Family == ModelFamily.Gpt2
        ? [(model.HiddenSize, 3L * model.HiddenSize)]
        : [(model.HiddenSize, (long)model.Heads * model.HeadDim), (model.HiddenSize, (long)model.KvHeads * model.HeadDim)];

    /// <summary>Sequences through the trained model per micro-batch: both sides of each pair for the pairwise methods.</summary>
    public static long TrainingRows(PlannedMethod method, MemoryBatch batch) =>
        method is PlannedMethod.RewardModel or PlannedMethod.Dpo or PlannedMethod.IterativeDpo ? 2L * batch.MicroBatchRows : batch.MicroBatchRows;

    /// <summary>
    /// What one micro-batch's forward through the trained model keeps for the backward (see the type's summary): with
    /// gradient checkpointing each layer's input and one layer's activations (the one being recomputed), without the
    /// attention probabilities when they are recomputed; the blocks' activations at 2 bytes under bf16, their outputs
    /// (the next block's input) at 4. The head's logits, softmax and gradient are float32, at every position for the
    /// offline language-model methods, at the completion's for the online ones, and absent for a reward model.
    /// </summary>
    public static long TrainingActivationBytes(PlannedMethod method, ModelConfig model, MemoryBatch batch, int loraRank = 0, float loraDropout = DefaultLoraDropout)
    {
        long time = batch.PromptLength + batch.CompletionLength, rows = TrainingRows(method, batch), tokens = rows * time;
        long d = model.HiddenSize, kv = (long)model.KvHeads * model.HeadDim, ffn = model.IntermediateSize;
        var (lora, loraMasks) = loraRank > 0 ? LoraActivationsPerLayerAndToken(model, loraRank, loraDropout > 0) : (0, 0);
        long perLayerAndToken = (model.Family == ModelFamily.Gpt2 ? 10 * d + 2 * ffn : 9 * d + 3 * kv + 4 * ffn)
            + (batch.RecomputeAttention ? 0 : model.Heads * time) + lora;
        // Under bf16 the block's output and any dropout mask stay float32.
        long float32Kept = d + loraMasks;
        long blocks = batch.GradientCheckpointing ? 4 * tokens * (model.Layers * d + perLayerAndToken)
            : batch.Bf16 ? tokens * model.Layers * (2 * (perLayerAndToken - float32Kept) + 4 * float32Kept)
            : 4 * tokens * model.Layers * perLayerAndToken;
        long headPositions = method == PlannedMethod.RewardModel ? 0 : IsOnline(method) && method != PlannedMethod.IterativeDpo ? batch.CompletionLength : time;
        return blocks + 4L * 3 * rows * headPositions * model.VocabSize;
    }

    /// <summary>Keys and values of every layer for the sequences sampled at once.</summary>
    public static long KvCacheBytes(ModelConfig model, MemoryBatch batch) =>
        4L * 2 * model.Layers * batch.RolloutRows * (batch.PromptLength + batch.CompletionLength) * model.KvHeads * model.HeadDim;

    /// <summary>The candidate with the most parameters whose plan fits <paramref name="budgetBytes"/>, or null when none does.</summary>
    public static ModelConfig? Largest(PlannedMethod method, IEnumerable<ModelConfig> candidates, MemoryBatch batch, long budgetBytes, int loraRank = 0, float loraDropout = DefaultLoraDropout) =>
        candidates.Where(c => For(method, c, batch, loraRank, loraDropout).TotalBytes <= budgetBytes).MaxBy(c => c.ParameterCount());

    /// <summary>GPT-2's published sizes (Radford et al. 2019): 124M, 355M, 774M and 1.5B parameters, 1024 positions.</summary>
    public static IReadOnlyList<(string Name, ModelConfig Config)> Gpt2Sizes { get; } =
    [
        ("gpt2", ModelConfig.Gpt2(50257, 768, 12, 12, 1024)),
        ("gpt2-medium", ModelConfig.Gpt2(50257, 1024, 24, 16, 1024)),
        ("gpt2-large", ModelConfig.Gpt2(50257, 1280, 36, 20, 1024)),
        ("gpt2-xl", ModelConfig.Gpt2(50257, 1600, 48, 25, 1024)),
    ];

    /// <summary>
    /// Llama-family sizes as their Hub config.json files give them: TinyLlama-1.1B, Llama-3.2-1B and 3B (tied
    /// embeddings), Llama-2-7B and Llama-3.1-8B.
    /// </summary>
    public static IReadOnlyList<(string Name, ModelConfig Config)> LlamaSizes { get; } =
    [
        ("TinyLlama-1.1B", ModelConfig.Llama(32000, 2048, 22, 32, 2048, kvHeads: 4, intermediate: 5632, tie: false)),
        ("Llama-3.2-1B", ModelConfig.Llama(128256, 2048, 16, 32, 131072, kvHeads: 8, intermediate: 8192, tie: true)),
        ("Llama-3.2-3B", ModelConfig.Llama(128256, 3072, 28, 24, 131072, kvHeads: 8, intermediate: 8192, tie: true)),
        ("Llama-2-7B", ModelConfig.Llama(32000, 4096, 32, 32, 4096, kvHeads: 32, intermediate: 11008, tie: false)),
        ("Llama-3.1-8B", ModelConfig.Llama(128256, 4096, 32, 32, 131072, kvHeads: 8, intermediate: 14336, tie: false)),
    ];
}
