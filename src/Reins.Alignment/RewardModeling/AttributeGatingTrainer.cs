using Reins.Alignment.Objectives;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Rewards.Evaluation;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Alignment.RewardModeling;

/// <summary>
/// ArmoRM's second stage on a regression reward model (its first stage, <see cref="RegressionRewardTrainer"/>): the
/// trunk and attribute head frozen, a gate head over the prompt's last hidden state learns which attributes matter for
/// which prompt, by the Bradley–Terry loss on preference pairs of the combined reward R = β·Σₖ gₖ(x)·r′ₖ
/// (<see cref="GatedRewardModel"/>; the attributes standardised and decorrelated from verbosity first). The gate starts at
/// zero, i.e. at the attributes' mean. Logs accuracy, margin and gates/&lt;attribute&gt; (the mean weight); evaluation adds
/// RewardBench-style eval_accuracy per category.
/// </summary>
public sealed class AttributeGatingTrainer : RewardModelTrainer<RewardConfig>
{
    private readonly TokenizedPair[] train, eval;
    private readonly string?[] evalCategories;
    private readonly float[] attributeHead;

    /// <summary>The gating settings, decorrelation coefficients included.</summary>
    public GatingSettings Settings { get; }

    /// <summary>
    /// Sets up the gate on <paramref name="regression"/> (a multi-attribute reward model with its statistics),
    /// decorrelating every attribute from <paramref name="verbosity"/> (when given) over the training responses.
    /// </summary>
    public AttributeGatingTrainer(RewardConfig config, RewardModel regression, ITextEncoder encoder, IReadOnlyList<PreferenceExample> trainSet,
        IReadOnlyList<PreferenceExample>? evalSet, Action<string>? writeExtraFiles, string? verbosity = null, float beta = 1f, float temperature = 1f)
        : base(config, regression.Network, [.. regression.Labels.Select(l => "gate_" + l)], encoder, writeExtraFiles, headOnly: true)
    {
        if (regression.Labels.Count < 2) throw new ArgumentException($"rm gate: the reward model has {regression.Labels.Count} output; gating combines the attributes of a multi-attribute (regression) model.");
        var statistics = regression.Normalization ?? throw new ArgumentException($"rm gate: the reward model has no {RewardNormalization.FileName}; its attributes are standardised before they are gated.");
        if (!(beta > 0) || !(temperature > 0)) throw new ArgumentException("rm gate: --gating-beta and --gating-temperature must be positive.");
        var (trainKept, evalKept) = PreferencePairs(trainSet, evalSet, encoder);
        (train, eval) = ([.. trainKept.Select(p => p.Pair)], [.. evalKept.Select(p => p.Pair)]);
        evalCategories = [.. evalKept.Select(p => Category(p.Example))];
        attributeHead = regression.Network.ScoreWeight!.ToArray();
        // The gate starts at zero: uniform weights, the attributes' mean.
        Model.ScoreWeight!.Span.Clear();
        var standardised = statistics.Normalize(regression.RawScores([.. train.SelectMany(p => new[] { p.Chosen, p.Rejected })], config.Training.PerDeviceEvalBatchSize));
        Settings = new GatingSettings(regression.Labels, statistics.Mean, statistics.Std, verbosity,
            GatingSettings.DecorrelationOf(standardised, regression.Labels, verbosity), beta, temperature);
    }

    /// <inheritdoc/>
    protected override int TrainCount => train.Length;

    private protected override IReadOnlyList<TokenizedSequence> NormalizationReference => [.. train.SelectMany(p => new[] { p.Chosen, p.Rejected })];

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var (loss, chosen, rejected, gates) = Loss([.. exampleIndices.Select(i => train[i])]);
        int n = chosen.Length, k = Settings.Attributes.Count;
        var metrics = new Dictionary<string, double>
        {
            ["accuracy"] = Enumerable.Range(0, n).Count(i => chosen[i] > rejected[i]) / (double)n,
            ["margin"] = Enumerable.Range(0, n).Average(i => (double)chosen[i] - rejected[i]),
        };
        for (int j = 0; j < k; j++) metrics["gates/" + Settings.Attributes[j]] = Enumerable.Range(0, n).Average(i => (double)gates[i * k + j]);
        return new StepOutput(loss, metrics);
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Length == 0) return null;
        var chosen = new float[eval.Length];
        var rejected = new float[eval.Length];
        for (int start = 0; start < eval.Length; start += Config.Training.PerDeviceEvalBatchSize)
        {
            int n = Math.Min(Config.Training.PerDeviceEvalBatchSize, eval.Length - start);
            var (_, c, r, _) = Loss(eval[start..(start + n)]);
            c.CopyTo(chosen, start);
            r.CopyTo(rejected, start);
        }
        return PairwiseEvaluation.Compute(chosen, rejected, evalCategories).ToMetrics();
    }

    /// <summary>Saves the gating settings and the attribute head beside the gate network.</summary>
    protected override void WriteExtraFiles(string directory)
    {
        base.WriteExtraFiles(directory);
        Settings.Save(directory);
        GatedRewardModel.SaveAttributeHead(directory, attributeHead, Settings.Attributes.Count, Model.Config.HiddenSize);
    }

    // The Bradley–Terry loss of the pairs' gated rewards, the rewards of each side, and the chosen rows' gates [pairs·K].
    private (Tensor Loss, float[] Chosen, float[] Rejected, float[] Gates) Loss(IReadOnlyList<TokenizedPair> pairs)
    {
        var batch = Collator.Preference(pairs);
        var (rewards, gates) = GatedRewardModel.Forward(Model, attributeHead, Settings, batch.Tokens);
        int n = batch.Pairs, k = Settings.Attributes.Count;
        var chosen = Ops.Narrow0(rewards, 0, n);
        var rejected = Ops.Narrow0(rewards, n, n);
        return (BradleyTerryLoss.Compute(chosen, rejected), chosen.ToArray(), rejected.ToArray(), gates.ToArray()[..(n * k)]);
    }
}
