using Reins.Models.Peft;
using Reins.Tensors;
using Reins.Tensors.Nn;

namespace Reins.Models.Transformers;

/// <summary>
/// A decoder-only language model made of layers (<see cref="Embedding"/>, <see cref="TransformerBlock"/>s of attention
/// and an MLP, a final norm) with an LM head, or a score head when it is a …ForSequenceClassification model. It reads
/// a <see cref="ModelInput"/>: token ids with an optional attention mask (left or right padding both work).
/// </summary>
public abstract class CausalLanguageModel : Module
{
    private Linear? lmHead, scoreHead;

    /// <summary>The architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>Creates the model shell; subclasses register parameters (those <paramref name="sharedWeights"/> holds frozen are its own tensors).</summary>
    private protected CausalLanguageModel(ModelConfig config, Module? sharedWeights) : base(sharedWeights) => Config = config.Validate();

    /// <summary>
    /// A randomly initialised model of the config's family; with <paramref name="sharedWeights"/>, every weight that model
    /// holds frozen is shared rather than drawn, and every other it has of the same name and shape copied (a LoRA
    /// policy's reference or critic on its base, with the current values of the modules it trains in full).
    /// </summary>
    public static CausalLanguageModel Create(ModelConfig config, ulong seed, CausalLanguageModel? sharedWeights = null)
    {
        CausalLanguageModel model = config.Family switch
        {
            ModelFamily.Gpt2 => new Gpt2Model(config, new Rng(seed), sharedWeights),
            ModelFamily.Llama => new LlamaModel(config, new Rng(seed), sharedWeights),
            _ => throw new ArgumentOutOfRangeException(nameof(config), config.Family, "unknown model family"),
        };
        model.SourceDirectory = sharedWeights?.SourceDirectory;
        if (sharedWeights is not null) model.CopyParametersFrom(sharedWeights);
        return model;
    }

    /// <summary>The checkpoint directory the weights were loaded from (an adapter's base_model_name_or_path), or null.</summary>
    public string? SourceDirectory { get; set; }

    /// <summary>
    /// A copy of this model with weights of its own (a frozen reference, a detector to retrain, a fresh start); a LoRA
    /// model's copy shares its frozen base and copies only its adapters and saved modules.
    /// </summary>
    public CausalLanguageModel Clone()
    {
        CausalLanguageModel copy;
        // Every parameter is copied over below, so none is sampled first.
        using (Module.SkipInitialization()) copy = Create(Config, 0, Lora is null ? null : this);
        copy.SourceDirectory = SourceDirectory;
        if (Lora is not null) copy.AddLora(Lora.Config, 0);
        copy.CopyParametersFrom(this);
        return copy;
    }

    /// <summary>The model's LoRA adapters, or null when it has none.</summary>
    public LoraAdapters? Lora { get; private set; }

    /// <summary>
    /// Adds LoRA adapters (PEFT's LoRA) to the layers <paramref name="config"/> targets and freezes every other weight
    /// except its modules_to_save: from here on only the adapters (and those modules) train, and the model saves as a
    /// PEFT adapter of its base. A's are drawn from <paramref name="seed"/>, B's are zero, so nothing changes yet.
    /// </summary>
    public LoraAdapters AddLora(LoraConfig config, ulong seed)
    {
        if (Lora is not null) throw new InvalidOperationException($"{Config.Architecture} already has LoRA adapters.");
        config.Validate();
        var heads = new HashSet<string>(StringComparer.Ordinal) { "lm_head", Config.ClassifierName };
        var candidates = Linears.Where(l => !heads.Contains(l.Path!)).ToList();
        var targets = config.TargetModules ?? LoraConfig.DefaultTargets(Config.Family);
        var layers = targets.Count == 1 && targets[0] == LoraConfig.AllLinear ? candidates
            : candidates.Where(l => LoraConfig.Names(l.Path!, targets)).ToList();
        if (layers.Count == 0)
            throw new ArgumentException($"lora_target_modules: {string.Join(", ", targets)} names no linear layer of {Config.Architecture} (its layers: {string.Join(", ", candidates.Select(l => LoraConfig.LeafName(l.Path!)).Distinct())}).");
        // A classifier's head always trains in full, as PEFT adds it to a SEQ_CLS or TOKEN_CLS adapter's modules_to_save.
        var saved = (config.ModulesToSave ?? []).Union(Config.NumLabels is null ? [] : [Config.ClassifierName]).ToList();
        foreach (var module in saved)
            if (!Parameters.Any(p => LoraConfig.InModules(p.Name!, [module])))
                throw new ArgumentException($"lora_modules_to_save: '{module}' is not a module of {Config.Architecture}.");
        SetTrainable(false);
        foreach (var p in Parameters.Where(p => LoraConfig.InModules(p.Name!, saved)))
        {
            if (p.Bf16Only) throw new ArgumentException($"lora_modules_to_save: '{p.Name}' is held as bfloat16 only (frozen), so it cannot train; load it as float32.");
            p.RequiresGrad = true;
        }
        var rng = new Rng(seed);
        var adapters = new List<(string, Linear, LoraAdapter)>(layers.Count);
        foreach (var layer in layers)
        {
            // PEFT's init: A Kaiming-uniform with a = √5, which bounds it by 1/√in; B zero.
            float bound = 1 / MathF.Sqrt(layer.InFeatures);
            var a = Register(layer.Path + ".lora_A.weight", [config.R, layer.InFeatures], shape => Tensor.Uniform(rng, -bound, bound, shape));
            var b = Register(layer.Path + ".lora_B.weight", [layer.OutFeatures, config.R], Tensor.Zeros);
            layer.Adapter = new LoraAdapter(a, b, config.Scaling, config.Dropout);
            adapters.Add((layer.Path!, layer, layer.Adapter));
        }
        Lora = new LoraAdapters(config with { ModulesToSave = saved }, adapters);
        return Lora;
    }

    /// <summary>
    /// The LM head [vocab, hidden] (tied to <paramref name="embedding"/> unless tie_word_embeddings is off) of a language
    /// model, the score head [num_labels, hidden] of a …ForSequenceClassification one, or the classifier [num_labels,
    /// hidden] with a zero bias of a …ForTokenClassification one; registered after the trunk, as transformers orders them.
    /// </summary>
    private protected void AddHeads(Tensor embedding, Func<int[], float, Tensor> normal)
    {
        int c = Config.HiddenSize;
        if (Config.NumLabels is { } labels)
            scoreHead = new Linear(Builder.Push(Config.ClassifierName), [labels, c], shape => normal(shape, Config.InitializerRange),
                Config.TokenClassification ? Tensor.Zeros(labels) : null, Ops.WeightLayout.OutIn);
        else lmHead = Config.TieWordEmbeddings ? new Linear(embedding, Ops.WeightLayout.OutIn)
            : new Linear(Builder.Push("lm_head"), [Config.VocabSize, c], shape => normal(shape, Config.InitializerRange), null, Ops.WeightLayout.OutIn);
    }

    /// <summary>
    /// Whether training recomputes each block's activations in the backward pass instead of keeping them
    /// (transformers' gradient_checkpointing, <see cref="Ops.Checkpoint"/>): memory for one block's activations at a
    /// time, for one more forward pass; the gradients are the same.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>
    /// Whether attention's backward pass recomputes each block of probabilities from q and k instead of keeping the
    /// [B, H, T, T] probabilities of every layer from the forward (FlashAttention's trade): memory for a block per thread,
    /// one more Q·Kᵀ product per block, the same gradients bit for bit.
    /// </summary>
    public bool RecomputeAttention { get; set; }

    /// <summary>
    /// Whether training stores the activations each block keeps for the backward pass as bfloat16 (TRL's `bf16`,
    /// <see cref="Ops.Bf16SavedActivations"/>): half their memory; the forward pass, every sum, norm, softmax and loss,
    /// the gradients and the weights stay float32. Ignored under <see cref="GradientCheckpointing"/>, which keeps none.
    /// </summary>
    public bool Bf16Activations { get; set; }

    /// <summary>
    /// Keeps a bfloat16 copy of every weight matrix (embeddings included), which the linear layers and lookups then read
    /// whenever no gradient is recorded: generation (`--bf16`) reads half the bytes per token, with float32 activations
    /// and sums. The float32 weights stay, for training.
    /// </summary>
    public void KeepBf16Weights()
    {
        var conv1d = Conv1DWeights();
        foreach (var p in Parameters)
            if (p.Rank == 2) p.KeepBf16Copy(transposed: conv1d.Contains(p));
    }

    /// <summary>
    /// Keeps every frozen weight matrix as bfloat16 only (<see cref="Tensor.StoreAsBf16Only"/>), as TRL's bf16 holds a
    /// frozen reference, reward model or LoRA base: half their memory. The model still trains what it trains — a LoRA
    /// policy's input gradients flow through its bf16 base — and generates; its frozen weights can no longer be saved
    /// or copied as float32. Returns the bytes freed.
    /// </summary>
    public long StoreFrozenWeightsAsBf16()
    {
        var conv1d = Conv1DWeights();
        long freed = 0;
        foreach (var p in Parameters.Where(p => p is { Rank: 2, RequiresGrad: false, Bf16Only: false }))
        {
            p.StoreAsBf16Only(transposed: conv1d.Contains(p));
            freed += 2L * p.Size;
        }
        // The dropped float32 arrays are pinned and large: collected now, their memory serves the allocations that follow
        // (a trained model's gradients and moments, activations) instead of the heap growing past them.
        if (freed > 0) GC.Collect();
        return freed;
    }

    /// <summary>Freezes the model and holds its weight matrices as bfloat16 only: for a model that only generates or scores. Returns the bytes freed.</summary>
    public long FreezeAsBf16()
    {
        SetTrainable(false);
        return StoreFrozenWeightsAsBf16();
    }

    // GPT-2's Conv1D weights are [in, out]; their bf16 copies are stored [out, in], each output's weights one contiguous run.
    internal HashSet<Tensor> Conv1DWeights() => Linears.Where(l => l.Layout == Ops.WeightLayout.InOut).Select(l => l.Weight).ToHashSet();

    /// <summary>Reads the float32 weights again after <see cref="KeepBf16Weights"/> (the copies' storage is kept for the next refresh).</summary>
    public void DropBf16Weights()
    {
        foreach (var p in Parameters) p.DropBf16Copy();
    }

    /// <summary>
    /// Keeps an int8 copy of every weight matrix (embeddings included; per-output absmax scales, <see cref="Tensor.KeepInt8Copy"/>),
    /// which the linear layers and lookups read whenever no gradient is recorded: sampling (rollout_dtype int8) reads a
    /// quarter of float32's bytes per token, with float32 activations and sums. The other weights stay, for training.
    /// </summary>
    public void KeepInt8Weights()
    {
        var conv1d = Conv1DWeights();
        foreach (var p in Parameters)
            if (p.Rank == 2) p.KeepInt8Copy(transposed: conv1d.Contains(p));
    }

    /// <summary>Reads the other weights again after <see cref="KeepInt8Weights"/> (the copies' storage is kept for the next refresh).</summary>
    public void DropInt8Weights()
    {
        foreach (var p in Parameters) p.DropInt8Copy();
    }

    /// <summary>Whether generation keeps its KV caches as bfloat16 (`--kv-cache-dtype bfloat16`): half their memory and of the bytes a decode step reads.</summary>
    public bool Bf16KvCache { get; set; }

    /// <summary>
    /// The blocks in turn on the residual stream, the last one narrowed to the kept positions; each checkpointed when
    /// training with <see cref="GradientCheckpointing"/> or its activations stored as bfloat16 with <see cref="Bf16Activations"/>,
    /// each in a memory scope of its own when not recording (<see cref="Ops.Scoped"/>).
    /// </summary>
    private protected Tensor Blocks(TransformerBlock[] blocks, Tensor x, ModelInput input, int[] positionIds, in AttentionContext context)
    {
        for (int l = 0; l < blocks.Length; l++)
        {
            var (block, keep) = (blocks[l], l == blocks.Length - 1 ? input.Kept : input.Time);
            // A wrapped block rebuilds the context from the input's arrays (with a cache the mask lives in the cache): a ref
            // struct cannot wait for the backward pass.
            var cache = context.Cache;
            bool training = cache is null && Tape.IsRecording;
            Func<Tensor, Tensor> wrapped = cache is null
                ? h => block.Forward(h, positionIds, new AttentionContext(input.AttentionMask, input.DocumentIds, null, RecomputeAttention), keep)
                : h => block.Forward(h, positionIds, new AttentionContext(default, default, cache), keep);
            // A decoding step's few intermediates are not worth a scope of their own; a prefill's are.
            x = training && GradientCheckpointing ? Ops.Checkpoint(wrapped, x)
                : training && Bf16Activations ? Ops.Bf16SavedActivations(wrapped, x)
                : !Tape.IsRecording && (cache is null || input.Time > 1) ? Ops.Scoped(wrapped, x)
                : block.Forward(x, positionIds, context, keep);
        }
        return x;
    }

    /// <summary>The final hidden states [rows, kept positions, hidden] after the last norm (see <see cref="ModelInput.KeepLast"/>).</summary>
    public Tensor Hidden(ModelInput input)
    {
        input.Validate(Config.Architecture);
        return Forward(input, input.PositionIds ?? PositionIds(input.AttentionMask, input.Rows, input.Time), new AttentionContext(input.AttentionMask, input.DocumentIds, null, RecomputeAttention));
    }

    /// <summary>
    /// The embeddings, blocks and final norm. Without a cache, attention runs over the input's positions under its mask;
    /// with one, each layer appends its keys and values to the cache and attends over everything cached (the mask then
    /// lives in the cache). The last block narrows its queries and residual stream to the positions kept.
    /// </summary>
    private protected abstract Tensor Forward(ModelInput input, int[] positionIds, in AttentionContext context);

    /// <summary>
    /// Incremental decoding: runs the input's new tokens per row (its mask marks padding among them) through the
    /// model, appending to <paramref name="cache"/>, and returns the logits [rows, vocab] at each row's last new
    /// position. Inference only; use under <see cref="Tape.NoGrad"/> or a non-recording tape.
    /// </summary>
    public Tensor NextTokenLogits(ModelInput input, KvCache cache)
    {
        input.Validate(Config.Architecture);
        int batch = input.Rows, time = input.Time;
        if (cache.Batch != batch) throw new ArgumentException($"{Config.Architecture}: cache holds {cache.Batch} rows, the input {batch}.");
        var positions = cache.BeginStep(time, input.AttentionMask);
        var hidden = Forward(input, positions, new AttentionContext(default, default, cache));
        cache.EndStep(time);
        var last = new int[batch];
        for (int b = 0; b < batch; b++) last[b] = b * time + time - 1;
        var rows = time == 1 ? Ops.Reshape(hidden, batch, Config.HiddenSize) : Ops.Embedding(Ops.Reshape(hidden, batch * time, Config.HiddenSize), last, batch);
        return LmHead(rows);
    }

    /// <summary>Logits of hidden states [.., hidden] → [.., vocab].</summary>
    public Tensor LmHead(Tensor hidden) => (lmHead ?? throw new InvalidOperationException($"{Config.Architecture} has no language-model head.")).Forward(hidden);

    /// <summary>The <c>score.weight</c> [num_labels, hidden] of a …ForSequenceClassification model, else null.</summary>
    public Tensor? ScoreWeight => scoreHead?.Weight;

    /// <summary>
    /// Sequence scores [rows, num_labels] read at each sequence's last real token, as transformers'
    /// …ForSequenceClassification does (reward models).
    /// </summary>
    public Tensor Scores(ModelInput input)
    {
        input.Validate(Config.Architecture);
        if (Config.TokenClassification) throw new InvalidOperationException($"{Config.Architecture} labels every position; read it with ScoresAllPositions.");
        // The last block only needs the positions from the earliest of the rows' last tokens on.
        int keep = input.Time - LastRealTokens(input.AttentionMask, input.Rows, input.Time).Min();
        var hidden = Hidden(input with { KeepLast = keep });
        return ScoreHead(AtLastToken(hidden, input.AttentionMask, input.Time));
    }

    /// <summary>Scores at every kept position [rows, kept, num_labels] (PPO critics, process reward models).</summary>
    public Tensor ScoresAllPositions(ModelInput input) => ScoreHead(Hidden(input));

    private Tensor ScoreHead(Tensor hidden) => (scoreHead ?? throw new InvalidOperationException($"{Config.Architecture} has no score head (num_labels is not set).")).Forward(hidden);

    /// <summary>Next-token logits [rows, time, vocab].</summary>
    public Tensor Logits(ModelInput input) => LmHead(Hidden(input));

    /// <summary>Mean next-token cross-entropy; <paramref name="targets"/> holds one id per position, −100 where ignored.</summary>
    public Tensor Loss(ModelInput input, ReadOnlySpan<int> targets) =>
        Ops.CrossEntropy(Ops.Reshape(Logits(input), input.Rows * input.Time, Config.VocabSize), targets);

    /// <summary>
    /// Position ids from an attention mask: cumsum(mask) − 1, with padding positions at 0, so a left-padded
    /// sequence's first real token sits at position 0 as it would unpadded.
    /// </summary>
    public static int[] PositionIds(ReadOnlySpan<float> attentionMask, int batch, int time, int start = 0)
    {
        var pos = new int[batch * time];
        for (int b = 0; b < batch; b++)
        {
            int count = start;
            for (int t = 0; t < time; t++)
            {
                bool real = attentionMask.IsEmpty || attentionMask[b * time + t] != 0;
                pos[b * time + t] = real ? count++ : 0;
            }
        }
        return pos;
    }

    /// <summary>
    /// Hidden states [B, C] at each sequence's last real token: with right padding the last 1 of the mask, with left
    /// padding position T−1. hidden [B, T′, C] holds the last T′ of the <paramref name="time"/> positions the mask
    /// [B·time] covers (T′ = time unless the model was asked for its last positions only).
    /// </summary>
    public static Tensor AtLastToken(Tensor hidden, ReadOnlySpan<float> attentionMask, int time) =>
        AtPositions(hidden, LastRealTokens(attentionMask, hidden.Dim(0), time), time);

    /// <summary>
    /// Hidden states [B, C] at one position per sequence (<paramref name="positions"/>, counted in the
    /// <paramref name="time"/> positions of the input): a head that reads the prompt's end, say. hidden [B, T′, C] holds
    /// the last T′ of them.
    /// </summary>
    public static Tensor AtPositions(Tensor hidden, IReadOnlyList<int> positions, int time)
    {
        int batch = hidden.Dim(0), held = hidden.Dim(1), c = hidden.Dim(2), skipped = time - held;
        var rows = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            if (positions[b] < skipped) throw new ArgumentException($"value head: sequence {b}'s position {positions[b]} is before the {held} positions held.");
            rows[b] = b * held + positions[b] - skipped;
        }
        // Gathering rows is an embedding lookup into the flattened hidden states, whose backward scatters back.
        return Ops.Embedding(Ops.Reshape(hidden, batch * held, c), rows, batch);
    }

    /// <summary>Each sequence's last real position (mask [B·time], empty = all real); a row of padding only is an error.</summary>
    public static int[] LastRealTokens(ReadOnlySpan<float> attentionMask, int batch, int time)
    {
        var last = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            last[b] = attentionMask.IsEmpty ? time - 1 : -1;
            if (!attentionMask.IsEmpty)
                for (int t = 0; t < time; t++) if (attentionMask[b * time + t] != 0) last[b] = t;
            if (last[b] < 0) throw new ArgumentException($"value head: sequence {b} of the batch has no real token (all padding).");
        }
        return last;
    }
}
