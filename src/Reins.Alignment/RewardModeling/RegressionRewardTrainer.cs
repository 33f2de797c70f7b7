using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Alignment.RewardModeling;

/// <summary>
/// Multi-attribute regression reward modelling (SteerLM / HelpSteer2, the first stage of ArmoRM): one score-head output
/// per rated attribute (helpfulness, correctness, …), fitted to the ratings by mean squared error over every output.
/// The attributes are combined into one reward only at scoring time, with weights the user picks. Logs mse/&lt;attribute&gt;;
/// evaluation reports loss (the MSE over all attributes) and mse/&lt;attribute&gt;.
/// </summary>
public sealed class RegressionRewardTrainer : RewardModelTrainer<RewardConfig>
{
    private readonly IReadOnlyList<TokenizedRating> train, eval;

    /// <summary>Tokenises the rated responses (dropping, as TRL, those longer than max_length) and makes the reward model.</summary>
    public RegressionRewardTrainer(RewardConfig config, CausalLanguageModel model, ITextEncoder encoder,
        IReadOnlyList<RatingExample> trainSet, IReadOnlyList<RatingExample>? evalSet, Action<string>? writeExtraFiles)
        : base(config, model, AttributesOf(trainSet, evalSet), encoder, writeExtraFiles)
    {
        if (config.LabelSmoothing != 0 || config.CenterRewardsCoefficient != 0)
            throw new ArgumentException("label_smoothing/center_rewards_coefficient: belong to the pairwise objective; a regression reward model fits ratings by MSE.");
        (trainSet, evalSet) = config.Training.EvaluationSplit(trainSet, evalSet);
        train = Tokenize(trainSet, encoder);
        if (train.Count == 0) throw new InvalidDataException($"rm: no rated response fits max_length {MaxLength} tokens.");
        eval = evalSet is null ? [] : Tokenize(evalSet, encoder);
        DroppedTooLong = (trainSet.Count - train.Count, (evalSet?.Count ?? 0) - eval.Count);
    }

    /// <inheritdoc/>
    protected override int TrainCount => train.Count;

    private protected override IReadOnlyList<TokenizedSequence> NormalizationReference => [.. train.Select(r => r.Sequence)];

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var (loss, perAttribute) = Loss([.. exampleIndices.Select(i => train[i])]);
        return new StepOutput(loss, Labels.Select((a, j) => KeyValuePair.Create("mse/" + a, perAttribute[j])).ToDictionary());
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Count == 0) return null;
        var sums = new double[Labels.Count];
        for (int start = 0; start < eval.Count; start += Config.Training.PerDeviceEvalBatchSize)
        {
            int n = Math.Min(Config.Training.PerDeviceEvalBatchSize, eval.Count - start);
            var (_, perAttribute) = Loss([.. eval.Skip(start).Take(n)]);
            for (int j = 0; j < sums.Length; j++) sums[j] += perAttribute[j] * n;
        }
        var metrics = Labels.Select((a, j) => KeyValuePair.Create("mse/" + a, sums[j] / eval.Count)).ToDictionary();
        metrics["loss"] = sums.Sum() / (eval.Count * Labels.Count);
        return metrics;
    }

    // Mean squared error over every (response, attribute), and each attribute's own.
    private (Tensor Loss, double[] PerAttribute) Loss(IReadOnlyList<TokenizedRating> records)
    {
        var batch = Collator.Ratings(records);
        var scores = RewardModel.Scores(Model, batch.Tokens);
        var error = scores - Tensor.FromArray(batch.Targets, records.Count, Labels.Count);
        var squared = error.ToArray();
        var perAttribute = new double[Labels.Count];
        for (int i = 0; i < squared.Length; i++) perAttribute[i % Labels.Count] += (double)squared[i] * squared[i] / records.Count;
        return (Ops.Mean(Ops.Pow(error, 2)), perAttribute);
    }

    private List<TokenizedRating> Tokenize(IReadOnlyList<RatingExample> examples, ITextEncoder encoder)
    {
        var tokenizer = new DatasetTokenizer(encoder, TrainingTokenization);
        return [.. examples.Select(e => tokenizer.Rating(e)!).Where(r => r.Sequence.Length <= MaxLength)];
    }

    // Every record must rate the same attributes, in the same order, as the first training record.
    private static IReadOnlyList<string> AttributesOf(IReadOnlyList<RatingExample> trainSet, IReadOnlyList<RatingExample>? evalSet)
    {
        if (trainSet.Count == 0) throw new InvalidDataException("rm: the training set is empty.");
        var attributes = trainSet[0].Attributes;
        foreach (var (set, examples) in new[] { ("training", trainSet), ("evaluation", evalSet ?? []) })
            foreach (var e in examples)
                if (!e.Attributes.SequenceEqual(attributes))
                    throw new InvalidDataException($"{set} set, line {e.Line}: rates ({string.Join(", ", e.Attributes)}), the training set ({string.Join(", ", attributes)}).");
        return attributes;
    }
}
