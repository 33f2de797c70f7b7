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
        if (Directory is not null) Model.CopyParametersFrom(HfCheckpoint.Load(Path.Combine(directory, Directory)));
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
    /// back-propagated (a loss that depends on no parameter — nothing to learn from — is not), then each part's global
    /// gradient norm clipped to <paramref name="maxGradNorm"/> (0 = no clipping) and the step taken. Returns each
    /// micro-batch's metrics and loss, read before its tape frees them, and each part's gradient norm under its metric.
    /// </summary>
    public static (List<(IReadOnlyDictionary<string, double> Metrics, float Loss)> MicroBatches, List<(string Metric, double Norm)> GradNorms) Step(
        IReadOnlyList<TrainableModel> parts, int microBatches, Func<int, StepOutput> forward, float lossScale, float maxGradNorm)
    {
        foreach (var part in parts) part.Optimizer.ZeroGrad();
        var outputs = new List<(IReadOnlyDictionary<string, double>, float)>(microBatches);
        for (int micro = 0; micro < microBatches; micro++)
        {
            using var tape = new Tape();
            var output = forward(micro);
            if (output.Loss.RequiresGrad) tape.Backward(output.Loss, lossScale);
            outputs.Add((output.Metrics, output.Loss.Item()));
        }
        var norms = new List<(string, double)>(parts.Count);
        foreach (var part in parts)
        {
            norms.Add((part.GradNormMetric, part.Optimizer.ClipGradNorm(maxGradNorm > 0 ? maxGradNorm : float.PositiveInfinity)));
            part.Optimizer.Step();
        }
        return (outputs, norms);
    }
}
