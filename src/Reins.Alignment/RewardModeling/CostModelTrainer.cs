using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Objectives;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.Evaluation;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Alignment.RewardModeling;

/// <summary>Settings of cost-model training, with safe-rlhf's names where it has the setting.</summary>
public sealed record CostConfig : IRewardModelConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    [JsonPropertyName("max_length"), Description("Tokens per prompt+response; longer pairs or records are dropped and counted (capped at the model's n_positions).")]
    public int MaxLength { get; init; } = 512;

    /// <summary>safe-rlhf's regularisation: r·mean(C²) keeps costs from growing without bound.</summary>
    [JsonPropertyName("regularization"), Description("Weight of mean(cost^2) over both responses of each pair (safe-rlhf's regularization; 0 = off).")]
    public float Regularization { get; init; }

    /// <inheritdoc/>
    [JsonPropertyName("reward_normalization_samples"), Description("Training sequences sampled to estimate the cost mean and std saved in reward_normalization.json (for reading only: costs are used raw, their zero meaning safe).")]
    public int RewardNormalizationSamples { get; init; } = 4096;

    /// <summary>Checks every cost-model setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Settings.Require(MaxLength >= 2, "max_length", "must be at least 2");
        Settings.Require(Regularization >= 0 && float.IsFinite(Regularization), "regularization", "must be a non-negative number");
        Settings.Require(RewardNormalizationSamples >= 1, "reward_normalization_samples", "must be positive");
    }
}

/// <summary>
/// A cost model (Safe RLHF, Dai et al. 2024): a …ForSequenceClassification network of one output, "cost", trained on
/// PKU-SafeRLHF's safety preferences by <see cref="CostModelLoss"/> (the more harmful response costs more, and a cost
/// above 0 means unsafe) and on BeaverTails-style single labelled responses by its sign term. Logs accuracy (the more
/// harmful response costs more) and safety_accuracy (the cost's sign against each response's label); evaluation adds
/// the pairwise ece.
/// </summary>
public sealed class CostModelTrainer : RewardModelTrainer<CostConfig>
{
    /// <summary>The label of a cost model's one output; a reward model saved with it is read as a cost model.</summary>
    public const string Label = RewardModel.CostLabel;

    private readonly Data train, eval;

    // Pairs as (safer, more harmful) with the signs of each side, and single responses with theirs.
    private sealed record Data(IReadOnlyList<TokenizedPair> Pairs, float[] SaferSign, float[] HarmfulSign, IReadOnlyList<TokenizedSequence> Singles, float[] SingleSign)
    {
        public int Count => Pairs.Count + Singles.Count;
    }

    /// <summary>Tokenises safety pairs and single labelled responses (dropping, as TRL, those longer than max_length).</summary>
    public CostModelTrainer(CostConfig config, CausalLanguageModel model, ITextEncoder encoder, IReadOnlyList<Example> trainSet, IReadOnlyList<Example>? evalSet,
        Action<string>? writeExtraFiles)
        : base(config, model, [Label], encoder, writeExtraFiles)
    {
        (trainSet, evalSet) = config.Training.EvaluationSplit(trainSet, evalSet);
        train = Tokenize(trainSet, encoder);
        if (train.Count == 0) throw new InvalidDataException($"cm: no safety pair or labelled response fits max_length {MaxLength} tokens.");
        eval = evalSet is null ? Tokenize([], encoder) : Tokenize(evalSet, encoder);
        DroppedTooLong = (trainSet.Count - train.Count, (evalSet?.Count ?? 0) - eval.Count);
    }

    /// <inheritdoc/>
    protected override int TrainCount => train.Count;

    private protected override IReadOnlyList<TokenizedSequence> NormalizationReference => [.. train.Pairs.SelectMany(p => new[] { p.Chosen, p.Rejected }), .. train.Singles];

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var (loss, counts) = Loss(train, exampleIndices);
        return new StepOutput(loss, counts.Metrics());
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Count == 0) return null;
        double lossSum = 0;
        var total = new Counts();
        var harmful = new List<float>();
        var safer = new List<float>();
        for (int start = 0; start < eval.Count; start += Config.Training.PerDeviceEvalBatchSize)
        {
            int[] indices = [.. Enumerable.Range(start, Math.Min(Config.Training.PerDeviceEvalBatchSize, eval.Count - start))];
            var (loss, counts) = Loss(eval, indices);
            lossSum += loss.Item() * indices.Length;
            total += counts;
            harmful.AddRange(counts.Harmful);
            safer.AddRange(counts.Safer);
        }
        var metrics = total.Metrics();
        metrics["loss"] = lossSum / eval.Count;
        if (harmful.Count > 0) metrics["ece"] = PairwiseEvaluation.Compute(harmful.ToArray(), safer.ToArray()).Ece;
        return metrics;
    }

    // The examples' loss (pairs and singles weighted by their share of the batch) and what it got right.
    private (Tensor Loss, Counts Counts) Loss(Data data, int[] indices)
    {
        int[] pairs = [.. indices.Where(i => i < data.Pairs.Count)];
        int[] singles = [.. indices.Where(i => i >= data.Pairs.Count).Select(i => i - data.Pairs.Count)];
        Tensor? loss = null;
        var counts = new Counts();
        if (pairs.Length > 0)
        {
            var (safer, harmful) = RewardModel.PairRewards(Model, Collator.Preference([.. pairs.Select(i => data.Pairs[i])]));
            float[] saferSign = [.. pairs.Select(i => data.SaferSign[i])], harmfulSign = [.. pairs.Select(i => data.HarmfulSign[i])];
            loss = CostModelLoss.Pairwise(harmful, safer, harmfulSign, saferSign, Config.Regularization) * ((float)pairs.Length / indices.Length);
            float[] h = harmful.ToArray(), s = safer.ToArray();
            counts += new Counts(pairs.Length, h.Zip(s).Count(x => x.First > x.Second), 2 * pairs.Length,
                h.Zip(harmfulSign).Count(x => Right(x.First, x.Second)) + s.Zip(saferSign).Count(x => Right(x.First, x.Second)), h, s);
        }
        if (singles.Length > 0)
        {
            var costs = Ops.Reshape(RewardModel.Scores(Model, Collator.Sft([.. singles.Select(i => data.Singles[i])]).Tokens), singles.Length);
            float[] signs = [.. singles.Select(i => data.SingleSign[i])];
            var single = CostModelLoss.Single(costs, signs) * ((float)singles.Length / indices.Length);
            loss = loss is null ? single : loss + single;
            counts += new Counts(0, 0, singles.Length, costs.ToArray().Zip(signs).Count(x => Right(x.First, x.Second)), [], []);
        }
        return (loss!, counts);
    }

    // The cost's sign agrees with the label: positive for an unsafe response (sign +1), negative for a safe one.
    private static bool Right(float cost, float sign) => cost * sign > 0;

    private readonly record struct Counts(int Pairs, int Ranked, int Responses, int SignsRight, float[] Harmful, float[] Safer)
    {
        public Counts() : this(0, 0, 0, 0, [], []) { }

        public static Counts operator +(Counts a, Counts b) =>
            new(a.Pairs + b.Pairs, a.Ranked + b.Ranked, a.Responses + b.Responses, a.SignsRight + b.SignsRight, [.. a.Harmful, .. b.Harmful], [.. a.Safer, .. b.Safer]);

        public Dictionary<string, double> Metrics()
        {
            var metrics = new Dictionary<string, double> { ["safety_accuracy"] = (double)SignsRight / Math.Max(1, Responses) };
            if (Pairs > 0) metrics["accuracy"] = (double)Ranked / Pairs;
            return metrics;
        }
    }

    private Data Tokenize(IReadOnlyList<Example> examples, ITextEncoder encoder)
    {
        var tokenizer = new DatasetTokenizer(encoder, TrainingTokenization);
        var pairs = new List<(TokenizedPair Pair, float Safer, float Harmful)>();
        var singles = new List<(TokenizedSequence Sequence, float Sign)>();
        foreach (var example in examples)
        {
            switch (example)
            {
                case SafetyPreferenceExample record:
                    var pair = tokenizer.Preference(record.Safety())!;
                    if (pair.Chosen.Length <= MaxLength && pair.Rejected.Length <= MaxLength)
                        pairs.Add((pair, CostModelLoss.Sign(record.IsSafe[record.SaferId]), CostModelLoss.Sign(record.IsSafe[1 - record.SaferId])));
                    break;
                case SafetyLabelExample labelled:
                    var sequence = tokenizer.Sft(new PromptCompletionExample(labelled.Prompt, labelled.Response))!;
                    if (sequence.Length <= MaxLength) singles.Add((sequence, CostModelLoss.Sign(labelled.IsSafe)));
                    break;
                default:
                    throw new InvalidDataException($"line {example.Line}: a cost model learns from PKU-SafeRLHF safety pairs or BeaverTails-style labelled responses, not {example.GetType().Name} records.");
            }
        }
        return new Data([.. pairs.Select(p => p.Pair)], [.. pairs.Select(p => p.Safer)], [.. pairs.Select(p => p.Harmful)],
            [.. singles.Select(s => s.Sequence)], [.. singles.Select(s => s.Sign)]);
    }
}
