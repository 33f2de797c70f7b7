using System.Text.Json;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Alignment.Objectives;
using Reins.Rewards.Evaluation;
using Reins.Rewards.PreferenceModels;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Alignment.RewardModeling;

/// <summary>
/// Pairwise reward modelling (InstructGPT; TRL's RewardTrainer): a Bradley–Terry model P(chosen ≻ rejected) =
/// σ(r_c − r_r − margin) fitted by <see cref="BradleyTerryLoss"/>, with an optional per-pair "margin" field of the
/// dataset (Llama 2), label smoothing and reward centring. Logs accuracy, margin, rewards/chosen and rewards/rejected;
/// evaluation adds RewardBench-style accuracy per "category" (or "subset") field and the calibration error (ece).
/// With a general preference objective the same pairs fit a <see cref="GeneralPreferenceModel"/> by
/// <see cref="GeneralPreferenceLoss"/> instead: its margin is s(y_c, y_r)/τ, and it logs prob, the mean P(chosen ≻ rejected).
/// </summary>
public sealed class RewardTrainer : RewardModelTrainer<RewardConfig>
{
    private readonly IReadOnlyList<TokenizedPair> train, eval;
    private readonly float[]? trainMargins, evalMargins;
    private readonly string?[] evalCategories;
    private readonly GeneralPreferenceSettings? generalPreference;

    /// <summary>
    /// Tokenises the pairs (dropping, as TRL, those longer than max_length) and makes the reward model, or with
    /// <paramref name="generalPreference"/> a general preference model of the config's value_head_dim, tau and centring.
    /// </summary>
    public RewardTrainer(RewardConfig config, CausalLanguageModel model, ITextEncoder encoder,
        IReadOnlyList<PreferenceExample> trainSet, IReadOnlyList<PreferenceExample>? evalSet, Action<string>? writeExtraFiles, bool generalPreference = false)
        : base(config, model, generalPreference ? config.GeneralPreference.Labels : RewardModel.DefaultLabels(1), encoder, writeExtraFiles)
    {
        if (generalPreference)
        {
            if (config.LabelSmoothing > 0 || config.CenterRewardsCoefficient > 0)
                throw new ArgumentException("label_smoothing and center_rewards_coefficient apply to Bradley–Terry rewards, not to a general preference model.");
            this.generalPreference = config.GeneralPreference;
        }
        var (trainKept, evalKept) = PreferencePairs(trainSet, evalSet, encoder);
        (train, trainMargins) = (trainKept.Select(p => p.Pair).ToArray(), Margins(trainKept, "training"));
        (eval, evalMargins) = (evalKept.Select(p => p.Pair).ToArray(), Margins(evalKept, "evaluation"));
        evalCategories = [.. evalKept.Select(p => Category(p.Example))];
    }

    /// <inheritdoc/>
    protected override int TrainCount => train.Count;

    private protected override IReadOnlyList<TokenizedSequence> NormalizationReference => [.. train.SelectMany(p => new[] { p.Chosen, p.Rejected })];

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var (loss, chosen, rejected) = Loss([.. exampleIndices.Select(i => train[i])], trainMargins is null ? null : [.. exampleIndices.Select(i => trainMargins[i])]);
        int n = chosen.Length;
        var metrics = new Dictionary<string, double>
        {
            ["accuracy"] = Enumerable.Range(0, n).Count(i => chosen[i] > rejected[i]) / (double)n,
            ["margin"] = Enumerable.Range(0, n).Average(i => (double)chosen[i] - rejected[i]),
        };
        if (generalPreference is null) (metrics["rewards/chosen"], metrics["rewards/rejected"]) = (chosen.Average(), rejected.Average());
        else metrics["prob"] = MeanProbability(chosen);
        return new StepOutput(loss, metrics);
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Count == 0) return null;
        var chosen = new float[eval.Count];
        var rejected = new float[eval.Count];
        double lossSum = 0;
        // A preference model is evaluated as it is saved: centred on the training sequences' mean, not the batch's.
        var center = generalPreference is { CenterEmbeddings: true } ? NormalizationStatistics().Mean[..generalPreference.ValueHeadDim] : null;
        for (int start = 0; start < eval.Count; start += Config.Training.PerDeviceEvalBatchSize)
        {
            int n = Math.Min(Config.Training.PerDeviceEvalBatchSize, eval.Count - start);
            var (loss, c, r) = Loss([.. eval.Skip(start).Take(n)], evalMargins?[start..(start + n)], center);
            lossSum += loss.Item() * n;
            c.CopyTo(chosen, start);
            r.CopyTo(rejected, start);
        }
        var metrics = PairwiseEvaluation.Compute(chosen, rejected, evalCategories).ToMetrics();
        metrics["loss"] = lossSum / eval.Count;
        if (generalPreference is not null)
        {
            metrics.Remove("rewards/chosen");
            metrics.Remove("rewards/rejected");
            metrics["prob"] = MeanProbability(chosen);
        }
        return metrics;
    }

    // The loss of a batch of pairs and the rewards of each side; a preference model's "rewards" are s/τ and 0.
    private (Tensor Loss, float[] Chosen, float[] Rejected) Loss(IReadOnlyList<TokenizedPair> pairs, float[]? margins, float[]? center = null)
    {
        var batch = Collator.Preference(pairs);
        if (generalPreference is { } settings)
        {
            var (v, eigenvalues) = GeneralPreferenceModel.Embed(Model, batch.Tokens, settings, center);
            int n = batch.Pairs;
            var scores = GeneralPreferenceModel.SkewScores(Ops.Narrow0(v, 0, n), Ops.Narrow0(v, n, n), eigenvalues is null ? null : Ops.Narrow0(eigenvalues, 0, n));
            return (GeneralPreferenceLoss.Compute(scores, settings.Tau, margins), [.. scores.ToArray().Select(x => x / settings.Tau)], new float[n]);
        }
        var (chosen, rejected) = RewardModel.PairRewards(Model, batch);
        var loss = BradleyTerryLoss.Compute(chosen, rejected, margins, Config.LabelSmoothing, Config.CenterRewardsCoefficient);
        return (loss, chosen.ToArray(), rejected.ToArray());
    }

    // A preference model's mean P(chosen ≻ rejected) = σ(s/τ), its "rewards" being the logits s/τ.
    private static double MeanProbability(float[] logits) => logits.Average(d => 1 / (1 + Math.Exp(-d)));

    /// <summary>Saves the preference model's settings beside its weights and statistics.</summary>
    protected override void WriteExtraFiles(string directory)
    {
        base.WriteExtraFiles(directory);
        generalPreference?.Save(directory);
    }

    // A dataset's "margin" column, as TRL reads it: every record has one, or none does.
    private static float[]? Margins(List<(PreferenceExample Example, TokenizedPair Pair)> pairs, string set)
    {
        int with = pairs.Count(p => p.Example.Extra.ContainsKey("margin"));
        if (with == 0) return null;
        return [.. pairs.Select(p => p.Example.Extra.TryGetValue("margin", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetSingle()
            : throw new InvalidDataException($"{set} set, line {p.Example.Line}: field \"margin\" must be a number when other records have one."))];
    }

}
