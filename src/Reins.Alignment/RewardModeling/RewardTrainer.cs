using System.Text.Json;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Alignment.Objectives;
using Reins.Rewards.Evaluation;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Alignment.RewardModeling;

/// <summary>
/// Pairwise reward modelling (InstructGPT; TRL's RewardTrainer): a Bradley–Terry model P(chosen ≻ rejected) =
/// σ(r_c − r_r − margin) fitted by <see cref="BradleyTerryLoss"/>, with an optional per-pair "margin" field of the
/// dataset (Llama 2), label smoothing and reward centring. Logs accuracy, margin, rewards/chosen and rewards/rejected;
/// evaluation adds RewardBench-style accuracy per "category" (or "subset") field and the calibration error (ece).
/// </summary>
public sealed class RewardTrainer : RewardModelTrainer<RewardConfig>
{
    private readonly IReadOnlyList<TokenizedPair> train, eval;
    private readonly float[]? trainMargins, evalMargins;
    private readonly string?[] evalCategories;

    /// <summary>Tokenises the pairs (dropping, as TRL, those longer than max_length) and makes the reward model.</summary>
    public RewardTrainer(RewardConfig config, CausalLanguageModel model, ITextEncoder encoder,
        IReadOnlyList<PreferenceExample> trainSet, IReadOnlyList<PreferenceExample>? evalSet, Action<string>? writeExtraFiles)
        : base(config, model, RewardModel.DefaultLabels(1), encoder, writeExtraFiles)
    {
        (trainSet, evalSet) = config.Training.EvaluationSplit(trainSet, evalSet);
        var trainKept = Tokenize(trainSet, encoder);
        if (trainKept.Count == 0) throw new InvalidDataException($"rm: no training pair fits max_length {MaxLength} tokens.");
        var evalKept = evalSet is null ? [] : Tokenize(evalSet, encoder);
        DroppedTooLong = (trainSet.Count - trainKept.Count, (evalSet?.Count ?? 0) - evalKept.Count);
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
        return new StepOutput(loss, new Dictionary<string, double>
        {
            ["accuracy"] = Enumerable.Range(0, n).Count(i => chosen[i] > rejected[i]) / (double)n,
            ["margin"] = Enumerable.Range(0, n).Average(i => (double)chosen[i] - rejected[i]),
            ["rewards/chosen"] = chosen.Average(), ["rewards/rejected"] = rejected.Average(),
        });
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Count == 0) return null;
        var chosen = new float[eval.Count];
        var rejected = new float[eval.Count];
        double lossSum = 0;
        for (int start = 0; start < eval.Count; start += Config.Training.PerDeviceEvalBatchSize)
        {
            int n = Math.Min(Config.Training.PerDeviceEvalBatchSize, eval.Count - start);
            var (loss, c, r) = Loss([.. eval.Skip(start).Take(n)], evalMargins?[start..(start + n)]);
            lossSum += loss.Item() * n;
            c.CopyTo(chosen, start);
            r.CopyTo(rejected, start);
        }
        var metrics = PairwiseEvaluation.Compute(chosen, rejected, evalCategories).ToMetrics();
        metrics["loss"] = lossSum / eval.Count;
        return metrics;
    }

    // The Bradley–Terry loss of a batch of pairs and the rewards of each side.
    private (Tensor Loss, float[] Chosen, float[] Rejected) Loss(IReadOnlyList<TokenizedPair> pairs, float[]? margins)
    {
        var (chosen, rejected) = RewardModel.PairRewards(Model, Collator.Preference(pairs));
        var loss = BradleyTerryLoss.Compute(chosen, rejected, margins, Config.LabelSmoothing, Config.CenterRewardsCoefficient);
        return (loss, chosen.ToArray(), rejected.ToArray());
    }

    private List<(PreferenceExample Example, TokenizedPair Pair)> Tokenize(IReadOnlyList<PreferenceExample> examples, ITextEncoder encoder)
    {
        var tokenizer = new DatasetTokenizer(encoder, TrainingTokenization);
        return [.. examples.Select(e => (Example: e, Pair: tokenizer.Preference(e)!))
            .Where(p => p.Pair.Chosen.Length <= MaxLength && p.Pair.Rejected.Length <= MaxLength)];
    }

    // A dataset's "margin" column, as TRL reads it: every record has one, or none does.
    private static float[]? Margins(List<(PreferenceExample Example, TokenizedPair Pair)> pairs, string set)
    {
        int with = pairs.Count(p => p.Example.Extra.ContainsKey("margin"));
        if (with == 0) return null;
        return [.. pairs.Select(p => p.Example.Extra.TryGetValue("margin", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetSingle()
            : throw new InvalidDataException($"{set} set, line {p.Example.Line}: field \"margin\" must be a number when other records have one."))];
    }

    // RewardBench files name the subset "subset"; ours "category".
    private static string? Category(PreferenceExample example) =>
        (example.Extra.TryGetValue("category", out var c) || example.Extra.TryGetValue("subset", out c)) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
}
