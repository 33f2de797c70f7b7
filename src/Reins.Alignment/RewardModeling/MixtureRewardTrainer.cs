using System.Text.Json;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Alignment.RewardModeling;

/// <summary>Which annotator belongs to which component, saved as <see cref="FileName"/> beside a mixture reward model.</summary>
/// <param name="Components">The component labels, in the score head's order.</param>
/// <param name="Annotators">Each annotator's probability of each component (one 1 per row when hard), by annotator id.</param>
public sealed record MixtureAssignments(
    [property: JsonPropertyName("components")] IReadOnlyList<string> Components,
    [property: JsonPropertyName("annotators")] IReadOnlyDictionary<string, float[]> Annotators)
{
    /// <summary>File name inside a mixture reward model's directory and its checkpoints.</summary>
    public const string FileName = "mixture_assignments.json";

    /// <summary>Each annotator's most likely component.</summary>
    public IReadOnlyDictionary<string, int> Hard => Annotators.ToDictionary(a => a.Key, a => Array.IndexOf(a.Value, a.Value.Max()));

    /// <summary>Reads <see cref="FileName"/> from <paramref name="directory"/>.</summary>
    public static MixtureAssignments Load(string directory) => RunDirectory.LoadState<MixtureAssignments>(directory, FileName);
}

/// <summary>
/// A mixture of Bradley–Terry reward models learnt by expectation–maximisation, as MaxMin-RLHF (Chakraborty et al. 2024)
/// learns one reward per annotator group: K score-head outputs on a shared trunk, and an assignment of each annotator
/// (the record's "annotator" field, or "group") to the component that explains its labels. The M-step is gradient
/// descent on −Σ_k w_{u,k}·log σ(r_k(chosen) − r_k(rejected)) over each pair's annotator u; the E-step, every
/// mixture_em_interval optimiser steps (once an epoch by default), scores every training pair under every component and
/// reassigns each annotator to the component with the highest log-likelihood of its labels (hard, the paper's) or to
/// its posterior under the mixing weights (soft). Annotators start at seeded random components, which breaks the
/// symmetry between identical heads. The heads are saved as labels group_0 … group_{K−1} with normalisation statistics,
/// so the model scores like any multi-output reward model (each group's reward, combined by the online commands'
/// --reward-aggregation: min for MaxMin), and the assignments in <see cref="MixtureAssignments.FileName"/>. Logs
/// accuracy (each pair under its annotator's component) and, evaluating, eval_accuracy and eval_accuracy/group_k over
/// the evaluation pairs of annotators seen in training (others are counted as eval_unknown_annotators).
/// </summary>
public sealed class MixtureRewardTrainer : RewardModelTrainer<RewardConfig>
{
    private readonly TokenizedPair[] train, eval;
    private readonly int[] trainAnnotator, evalAnnotator;
    private readonly string[] annotators;
    private readonly float[][] weights;
    private readonly int components;

    /// <summary>Tokenises the pairs (dropping, as TRL, those longer than max_length) and assigns annotators at random.</summary>
    public MixtureRewardTrainer(RewardConfig config, CausalLanguageModel model, ITextEncoder encoder,
        IReadOnlyList<PreferenceExample> trainSet, IReadOnlyList<PreferenceExample>? evalSet, Action<string>? writeExtraFiles)
        : base(config, model, GroupLabels(config.MixtureComponents), encoder, writeExtraFiles)
    {
        components = config.MixtureComponents;
        var (trainKept, evalKept) = PreferencePairs(trainSet, evalSet, encoder);
        annotators = [.. trainKept.Select(p => Annotator(p.Example, "training")).Distinct().Order(StringComparer.Ordinal)];
        var index = annotators.Select((a, i) => (a, i)).ToDictionary(x => x.a, x => x.i);
        (train, trainAnnotator) = ([.. trainKept.Select(p => p.Pair)], [.. trainKept.Select(p => index[Annotator(p.Example, "training")])]);
        (eval, evalAnnotator) = ([.. evalKept.Select(p => p.Pair)], [.. evalKept.Select(p => index.GetValueOrDefault(Annotator(p.Example, "evaluation"), -1))]);
        var rng = new Rng(config.Training.Seed ^ 0xE57E9UL);
        weights = [.. annotators.Select(_ => OneHot(rng.NextInt(components)))];
    }

    /// <summary>The component labels: group_0 … group_{K−1}.</summary>
    public static IReadOnlyList<string> GroupLabels(int components) => [.. Enumerable.Range(0, components).Select(k => $"group_{k}")];

    /// <summary>The current assignments.</summary>
    public MixtureAssignments Assignments => new(GroupLabels(components), annotators.Select((a, i) => (a, i)).ToDictionary(x => x.a, x => (float[])weights[x.i].Clone()));

    /// <inheritdoc/>
    protected override int TrainCount => train.Length;

    private protected override IReadOnlyList<TokenizedSequence> NormalizationReference => [.. train.SelectMany(p => new[] { p.Chosen, p.Rejected })];

    /// <inheritdoc/>
    protected override IEnumerable<ICheckpointPart> Parts => [new AssignmentPart(this)];

    /// <summary>The E-step, every mixture_em_interval steps (once an epoch by default), from the first interval on.</summary>
    protected override void BeforeStep(long step, long stepsPerEpoch)
    {
        long interval = Config.MixtureEmInterval > 0 ? Config.MixtureEmInterval : stepsPerEpoch;
        if (step > 0 && step % interval == 0) ExpectationStep();
    }

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var margins = Margins([.. exampleIndices.Select(i => train[i])]);
        int n = exampleIndices.Length;
        var w = new float[n * components];
        for (int i = 0; i < n; i++) weights[trainAnnotator[exampleIndices[i]]].CopyTo(w, i * components);
        var loss = -Ops.Sum(Ops.Mul(Tensor.FromArray(w, n, components), Ops.LogSigmoid(margins))) / n;
        var d = margins.ToArray();
        return new StepOutput(loss, new Dictionary<string, double>
        {
            ["accuracy"] = Enumerable.Range(0, n).Count(i => d[i * components + Own(trainAnnotator[exampleIndices[i]])] > 0) / (double)n,
        });
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Length == 0) return null;
        var d = PairMargins(eval);
        var known = Enumerable.Range(0, eval.Length).Where(i => evalAnnotator[i] >= 0).ToArray();
        var metrics = new Dictionary<string, double> { ["unknown_annotators"] = eval.Length - known.Length };
        if (known.Length == 0) return metrics;
        bool Correct(int i) => d[i * components + Own(evalAnnotator[i])] > 0;
        metrics["accuracy"] = known.Count(Correct) / (double)known.Length;
        foreach (var group in known.GroupBy(i => Own(evalAnnotator[i])))
            metrics[$"accuracy/group_{group.Key}"] = group.Count(Correct) / (double)group.Count();
        return metrics;
    }

    /// <summary>Saves the assignments beside the weights and statistics.</summary>
    protected override void WriteExtraFiles(string directory)
    {
        base.WriteExtraFiles(directory);
        RunDirectory.SaveState(directory, MixtureAssignments.FileName, Assignments);
    }

    /// <summary>
    /// Reassigns every annotator: the log-likelihood of its training labels under each component, then the best
    /// component (hard) or the posterior under the mixing weights, the mean of the current assignments (soft).
    /// </summary>
    public void ExpectationStep()
    {
        var d = PairMargins(train);
        var logLikelihood = new double[annotators.Length * components];
        for (int i = 0; i < train.Length; i++)
            for (int k = 0; k < components; k++)
            {
                double x = d[i * components + k];
                logLikelihood[trainAnnotator[i] * components + k] += x >= 0 ? -Math.Log(1 + Math.Exp(-x)) : x - Math.Log(1 + Math.Exp(x));
            }
        var mixing = Enumerable.Range(0, components).Select(k => Math.Max(1e-6, weights.Average(w => w[k]))).ToArray();
        for (int u = 0; u < annotators.Length; u++)
        {
            var row = logLikelihood.AsSpan(u * components, components);
            if (!Config.MixtureSoftAssignment)
            {
                int best = 0;
                for (int k = 1; k < components; k++) if (row[k] > row[best]) best = k;
                weights[u] = OneHot(best);
                continue;
            }
            var posterior = new double[components];
            for (int k = 0; k < components; k++) posterior[k] = Math.Log(mixing[k]) + row[k];
            double max = posterior.Max(), sum = posterior.Sum(p => Math.Exp(p - max));
            weights[u] = [.. posterior.Select(p => (float)(Math.Exp(p - max) / sum))];
        }
    }

    // r_k(chosen) − r_k(rejected) [pairs, K] of a batch, differentiable.
    private Tensor Margins(IReadOnlyList<TokenizedPair> pairs)
    {
        var batch = Collator.Preference(pairs);
        var scores = RewardModel.Scores(Model, batch.Tokens);
        return Ops.Narrow0(scores, 0, batch.Pairs) - Ops.Narrow0(scores, batch.Pairs, batch.Pairs);
    }

    // The same [pairs·K] of a whole set, without gradients.
    private float[] PairMargins(IReadOnlyList<TokenizedPair> pairs)
    {
        var raw = new RewardModel(Model, Labels).RawScores([.. pairs.Select(p => p.Chosen), .. pairs.Select(p => p.Rejected)], Config.Training.PerDeviceEvalBatchSize);
        var d = new float[pairs.Count * components];
        for (int i = 0; i < d.Length; i++) d[i] = raw[i] - raw[pairs.Count * components + i];
        return d;
    }

    private int Own(int annotator) => Array.IndexOf(weights[annotator], weights[annotator].Max());

    private float[] OneHot(int k)
    {
        var v = new float[components];
        v[k] = 1;
        return v;
    }

    // The assignments of a checkpoint (WriteExtraFiles writes them beside its weights), so a resumed run continues from the same ones.
    private sealed class AssignmentPart(MixtureRewardTrainer trainer) : ICheckpointPart
    {
        public void Save(string directory) { }

        public void Restore(string directory)
        {
            var saved = MixtureAssignments.Load(directory);
            for (int u = 0; u < trainer.annotators.Length; u++)
                trainer.weights[u] = saved.Annotators.TryGetValue(trainer.annotators[u], out var w) && w.Length == trainer.components ? w
                    : throw new InvalidDataException($"{directory}: {MixtureAssignments.FileName} has no assignment of annotator '{trainer.annotators[u]}' to {trainer.components} components.");
        }
    }
}
