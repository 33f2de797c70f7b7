using Reins.Alignment.Objectives;
using Reins.Alignment.Training;
using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.Kto;

/// <summary>Settings of KTO, with TRL's KTOConfig names.</summary>
public sealed record KtoConfig : ITrainerConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <summary>How prompts and completions are cut.</summary>
    public PreferenceDataArguments Data { get; init; } = new();

    /// <summary>β and the weights of desirable and undesirable examples.</summary>
    public KtoOptions Loss { get; init; } = new();

    /// <summary>Checks every KTO setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Data.Validate();
        Loss.Validate();
        Settings.Require(Training.PerDeviceTrainBatchSize >= 2, "per_device_train_batch_size", "KTO estimates its KL reference point from mismatched pairs within a batch, so it needs at least 2");
    }
}

/// <summary>
/// Kahneman–Tversky optimisation (Ethayarajh et al. 2024) on thumbs-up/down data, see <see cref="KtoLoss"/>. The KL
/// reference point is estimated per batch from mismatched pairs: prompt i with completion i+1 (mod batch), as TRL
/// does, scored by policy and reference; it is clamped at 0 and carries no gradient.
/// </summary>
public sealed class KtoTrainer : OfflineTrainer<KtoConfig>
{
    private readonly CausalLanguageModel reference;
    private readonly IReadOnlyList<UnpairedPreferenceExample> trainSet, evalSet;
    private readonly DatasetTokenizer tokenizer;
    private readonly BatchCollator collator;

    /// <summary>Trains <paramref name="policy"/> against a frozen <paramref name="reference"/>.</summary>
    public KtoTrainer(KtoConfig config, CausalLanguageModel policy, CausalLanguageModel reference, ITextEncoder encoder,
        IReadOnlyList<UnpairedPreferenceExample> trainSet, IReadOnlyList<UnpairedPreferenceExample>? evalSet, Action<string>? writeExtraFiles)
        : base(config, policy, writeExtraFiles)
    {
        if (trainSet.Count == 0) throw new InvalidDataException("kto: the training set is empty.");
        (trainSet, evalSet) = config.Training.EvaluationSplit(trainSet, evalSet);
        this.reference = reference;
        config.Training.Freeze(reference);
        this.evalSet = evalSet ?? [];
        tokenizer = new DatasetTokenizer(encoder, config.Data.TokenizationOptions);
        collator = new BatchCollator(PaddingOptions.For(encoder));
        // Batches are tokenised as they are drawn; one pass up front counts what tokenisation loses and leaves out
        // the records it drops (long prompts, with drop_long_prompts).
        var counting = new DatasetTokenizer(encoder, config.Data.TokenizationOptions);
        var tokenized = trainSet.Select(counting.Unpaired).ToList();
        this.trainSet = [.. trainSet.Where((_, i) => tokenized[i] is not null)];
        var sequences = tokenized.OfType<TokenizedUnpaired>().ToList();
        Report = counting.Report;
        Report.RequireUsable("kto", sequences.Count(s => s.Sequence.HasLossTokens));
        RequireFits("kto", "max_length", sequences.Max(s => s.Sequence.Length));
    }

    /// <summary>What tokenising the training set reported.</summary>
    public TokenizationReport Report { get; }

    /// <inheritdoc/>
    public override TokenizationReport DataReport => Report;

    /// <inheritdoc/>
    protected override int TrainCount => trainSet.Count;

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var (loss, metrics) = Loss([.. exampleIndices.Select(i => trainSet[i])]);
        return new StepOutput(loss, metrics);
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (evalSet.Count < 2) return null;
        var sums = new Dictionary<string, double>();
        int batches = 0;
        for (int start = 0; start + 1 < evalSet.Count; start += Config.Training.PerDeviceEvalBatchSize)
        {
            var (loss, metrics) = Loss([.. evalSet.Skip(start).Take(Config.Training.PerDeviceEvalBatchSize)]);
            foreach (var (k, v) in metrics.Append(KeyValuePair.Create("loss", (double)loss.Item())))
                if (double.IsFinite(v)) sums[k] = sums.GetValueOrDefault(k) + v;
            batches++;
        }
        return sums.ToDictionary(kv => kv.Key, kv => kv.Value / batches);
    }

    private (Tensor Loss, Dictionary<string, double> Metrics) Loss(IReadOnlyList<UnpairedPreferenceExample> examples)
    {
        if (examples.Count < 2) throw new ArgumentException("kto: a batch needs at least 2 examples for the KL estimate.");
        var rows = examples.Select(tokenizer.Unpaired).ToList();
        if (rows.Any(r => r is null)) throw new InvalidDataException("kto: an example was dropped by tokenisation (prompt longer than max_prompt_length with drop enabled).");
        var batch = collator.Unpaired(rows!);
        // Mismatched pairs: each prompt with the next example's completion, so the pair is (almost surely) unrelated.
        var mismatched = collator.Unpaired([.. examples.Select((e, i) => tokenizer.Unpaired(e with { Completion = examples[(i + 1) % examples.Count].Completion })!)]);
        var policy = SequenceLogProbs.Compute(Model, batch.Tokens).Sums;
        // The KL batch's passes take no gradient, the policy's included.
        float[] referenceLogps = SequenceLogProbs.FrozenSums(reference, batch.Tokens), klPolicy = SequenceLogProbs.FrozenSums(Model, mismatched.Tokens),
            klReference = SequenceLogProbs.FrozenSums(reference, mismatched.Tokens);
        var (loss, z, chosen, rejected) = KtoLoss.Compute(policy, Tensor.FromArray(referenceLogps, referenceLogps.Length), batch.Desirable,
            Tensor.FromArray(klPolicy, klPolicy.Length), Tensor.FromArray(klReference, klReference.Length),
            Config.Loss);
        return (loss, new Dictionary<string, double> { ["kl"] = z, ["rewards/chosen"] = chosen, ["rewards/rejected"] = rejected, ["rewards/margins"] = chosen - rejected });
    }
}
