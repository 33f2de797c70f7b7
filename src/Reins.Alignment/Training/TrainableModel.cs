using System.Text.Json;
using System.Text.Json.Serialization;
using Reins.Tensors.Distributed;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Optim;

namespace Reins.Alignment.Training;

/// <summary>
/// A model a trainer optimises — the policy, PPO's critic, a reward model — with its own AdamW, peak learning rate and
/// gradient clipping, saving its optimiser state with each checkpoint. The policy's weights are the checkpoint's own;
/// any other model is saved in a subdirectory of it, and of the run directory at the end, as a Hugging Face checkpoint.
/// </summary>
public sealed class TrainableModel : ICheckpointPart
{
    private readonly string optimizerFile;
    private readonly Rng? rng;
    private readonly ulong seed;

    /// <summary>
    /// The optimiser <paramref name="arguments"/> name over <paramref name="model"/>'s trainable parameters — AdamW with
    /// their betas, ε and weight decay, or SGD — with no weight decay on biases and norm weights, as transformers. <paramref name="directory"/> is null for the policy and
    /// names the subdirectory of any other model; <paramref name="rng"/>, the run's generator, is saved in the optimiser
    /// file so sampling resumes exactly.
    /// </summary>
    public TrainableModel(CausalLanguageModel model, TrainingArguments arguments, float peakLearningRate, string gradNormMetric = "grad_norm",
        string? directory = null, Rng? rng = null)
    {
        Model = model;
        model.GradientCheckpointing = arguments.GradientCheckpointing;
        model.RecomputeAttention = arguments.RecomputeAttention;
        model.Bf16Activations = arguments.Bf16;
        // Adapters first: the optimiser is made over what then trains. Each model's A's and dropout masks come from its own stream.
        seed = AdapterSeed(arguments.Seed, directory);
        arguments.Peft.Apply(model, seed);
        // A LoRA base is held as bf16 under bf16, as a frozen reference is; only the adapters are ever saved. (A model
        // trained in part without LoRA, as a reward model's head alone, is saved whole, so its frozen trunk stays float32.)
        if (arguments.FrozenAsBf16 && model.Lora is not null) model.StoreFrozenWeightsAsBf16();
        PeakLearningRate = peakLearningRate;
        GradNormMetric = gradNormMetric;
        Directory = directory;
        this.rng = rng;
        optimizerFile = directory is null ? OptimizerState.FileName : $"{directory}_{OptimizerState.FileName}";
        static bool Decays(Tensor p) => p.Rank >= 2;
        Optimizer = arguments.Optim == "sgd"
            ? new Sgd(model.TrainableParameters, arguments.LearningRate, weightDecay: arguments.WeightDecay) { DecayFilter = Decays }
            : new AdamW(model.TrainableParameters, arguments.LearningRate, arguments.AdamBeta1, arguments.AdamBeta2, arguments.AdamEpsilon, arguments.WeightDecay) { DecayFilter = Decays };
    }

    /// <summary>
    /// The seed of the LoRA A's and dropout masks of the model in <paramref name="directory"/> (null = the policy, which
    /// gets the run's seed itself); a critic's differ from the policy's even on the same base.
    /// </summary>
    public static ulong AdapterSeed(ulong seed, string? directory)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in directory ?? "") hash = (hash ^ c) * 1099511628211UL;
        return directory is null ? seed : seed ^ hash;
    }

    /// <summary>The model.</summary>
    public CausalLanguageModel Model { get; }
    /// <summary>Its optimiser.</summary>
    public Optimizer Optimizer { get; }
    /// <summary>The learning rate a schedule's factor multiplies.</summary>
    public float PeakLearningRate { get; }
    /// <summary>The metric its gradient norm (before clipping) is logged under.</summary>
    public string GradNormMetric { get; }
    /// <summary>Subdirectory of checkpoints and of the run holding the model, or null for the policy.</summary>
    public string? Directory { get; }

    /// <inheritdoc/>
    public void Save(string directory)
    {
        if (Directory is not null) HfCheckpoint.Save(Model, Path.Combine(directory, Directory));
        OptimizerState.Save(Path.Combine(directory, optimizerFile), Optimizer, rng);
    }

    /// <inheritdoc/>
    public void Restore(string directory)
    {
        if (Directory is not null) HfCheckpoint.Restore(Model, Path.Combine(directory, Directory));
        OptimizerState.Load(Path.Combine(directory, optimizerFile), Optimizer, rng);
    }

    /// <summary>Saves a non-policy model into its subdirectory of the finished run (the policy is the run's own model).</summary>
    public void SaveFinal(string runDirectory, Action<string>? writeExtraFiles)
    {
        if (Directory is not null) HfCheckpoint.Save(Model, Path.Combine(runDirectory, Directory), writeExtraFiles);
    }

    /// <summary>
    /// One optimiser step of <paramref name="parts"/> over <paramref name="microBatches"/> accumulated micro-batches: their
    /// gradients zeroed, each micro-batch's forward run under its own tape and its loss × <paramref name="lossScale"/>
    /// back-propagated (a loss that depends on no parameter — nothing to learn from — is not), term by term when the loss
    /// comes in terms (<see cref="StepOutput.Next"/>), then each part's global
    /// gradient norm clipped to <paramref name="maxGradNorm"/> (0 = no clipping) and the step taken. Returns each
    /// micro-batch's metrics and loss, read before its tape frees them, each part's gradient norm under its metric, and
    /// whether the step was skipped. A loss or gradient norm that is not finite would make every weight NaN: no part is
    /// then updated, and the step is skipped when <paramref name="skipNonFinite"/> is set, else a
    /// <see cref="NonFiniteTrainingException"/> ends the run with the weights as they were. An update that leaves a
    /// weight non-finite ends the run too.
    /// </summary>
    public static (List<(IReadOnlyDictionary<string, double> Metrics, float Loss)> MicroBatches, List<(string Metric, double Norm)> GradNorms, bool Skipped) Step(
        IReadOnlyList<TrainableModel> parts, int microBatches, Func<int, StepOutput> forward, float lossScale, float maxGradNorm, bool skipNonFinite = false)
    {
        foreach (var part in parts) part.Optimizer.ZeroGrad();
        var outputs = new List<(IReadOnlyDictionary<string, double>, float)>(microBatches);
        // Data-parallel: rank r runs micro-batches r, r + N, …; the gradients are then summed over the ranks, so every
        // rank holds what one process running them all would, and takes the same step.
        for (int micro = World.Rank; micro < microBatches; micro += World.Size)
        {
            foreach (var part in parts) part.Model.Lora?.SeedDropout(DropoutSeed(part.seed, part.Optimizer.StepCount, micro));
            int k = micro;
            Func<StepOutput>? term = () => forward(k);
            float loss = 0;
            var metrics = new Dictionary<string, double>();
            while (term is not null)
            {
                using var tape = new Tape();
                var output = term();
                if (output.Loss.RequiresGrad) tape.Backward(output.Loss, lossScale);
                loss += output.Loss.Item();
                foreach (var (name, value) in output.Metrics) metrics[name] = value;
                term = output.Next;
            }
            outputs.Add((metrics, loss));
        }
        if (World.IsDistributed)
        {
            foreach (var part in parts) part.Optimizer.SumGradientsAcrossRanks();
            outputs = GatherMicroBatches(outputs, microBatches);
        }
        var norms = parts.Select(part => (part.GradNormMetric, (double)part.Optimizer.ClipGradNorm(maxGradNorm > 0 ? maxGradNorm : float.PositiveInfinity))).ToList();
        string? nonFinite = outputs.Select((o, micro) => float.IsFinite(o.Item2) ? null : $"the loss of micro-batch {micro} is {o.Item2}").FirstOrDefault(w => w is not null)
            ?? norms.Select(n => double.IsFinite(n.Item2) ? null : $"{n.Item1} is {n.Item2}").FirstOrDefault(w => w is not null);
        if (nonFinite is not null)
        {
            if (!skipNonFinite)
                throw new NonFiniteTrainingException($"{nonFinite}; the step was not taken and the run stopped (the last checkpoint holds finite weights). Lower learning_rate, check the adam_* settings and the data, or set skip_nonfinite_steps to skip such steps.");
            return (outputs, norms, Skipped: true);
        }
        foreach (var part in parts) part.Optimizer.Step();
        // A finite gradient can still push a weight past float's range; no checkpoint may hold the result.
        if (parts.FirstOrDefault(part => !part.Model.TrainableParameters.All(p => float.IsFinite(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(p.Span)))) is { } broken)
            throw new NonFiniteTrainingException($"the update made weights of {broken.Directory ?? "the policy"} non-finite; the run stopped (the last checkpoint holds finite weights). Lower learning_rate.");
        return (outputs, norms, Skipped: false);
    }

    // One seed per (run, step, micro-batch): what a micro-batch draws does not depend on which rank runs it or on a resume.
    private static ulong DropoutSeed(ulong seed, long step, int micro) => seed ^ (0xD1B54A32D192ED03UL * (ulong)(step + 1)) ^ (0x8CB92BA72F3D8DD7UL * (ulong)(micro + 1));

    // Every rank's micro-batch outputs on every rank, in micro-batch order (rank r ran r, r + N, …), so the metrics logged
    // and the non-finite check are those of all of them.
    private static List<(IReadOnlyDictionary<string, double> Metrics, float Loss)> GatherMicroBatches(List<(IReadOnlyDictionary<string, double> Metrics, float Loss)> local, int microBatches)
    {
        var json = JsonSerializer.Serialize(local.Select(o => new MicroBatchOutput(o.Loss, o.Metrics.ToDictionary())).ToList(), MicroBatchJson.Default.ListMicroBatchOutput);
        var all = World.Gather(json).Select(j => JsonSerializer.Deserialize(j, MicroBatchJson.Default.ListMicroBatchOutput)!).ToArray();
        var ordered = new List<(IReadOnlyDictionary<string, double>, float)>(microBatches);
        for (int micro = 0; micro < microBatches; micro++)
        {
            var o = all[micro % World.Size][micro / World.Size];
            ordered.Add((o.Metrics, o.Loss));
        }
        return ordered;
    }
}

/// <summary>One micro-batch's loss and metrics, as ranks exchange them (NaN and infinities as named literals).</summary>
internal sealed record MicroBatchOutput(float Loss, Dictionary<string, double> Metrics);

[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(List<MicroBatchOutput>))]
internal sealed partial class MicroBatchJson : JsonSerializerContext;

/// <summary>A training step whose loss or gradient norm is NaN or infinite, which would have made the weights NaN.</summary>
public sealed class NonFiniteTrainingException(string message) : Exception(message);
