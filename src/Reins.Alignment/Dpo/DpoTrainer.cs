using System.Text.Json;
using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Objectives;
using Reins.Alignment.Training;
using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.Dpo;

/// <summary>Settings of direct preference optimisation, with TRL's DPOConfig names (CPOConfig's for SimPO).</summary>
public sealed record DpoConfig : ITrainerConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <summary>How prompts and completions are cut.</summary>
    public PreferenceDataArguments Data { get; init; } = new();

    /// <summary>The objective and its β.</summary>
    public PreferenceLossOptions Loss { get; init; } = new();

    /// <summary>Compute the reference log-probs once before training instead of every step.</summary>
    [JsonPropertyName("precompute_ref_log_probs"), Description("Compute reference log-probs once up front and cache them.")]
    public bool PrecomputeRefLogProbs { get; init; }

    /// <summary>Checks every DPO setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Data.Validate();
        Loss.Validate();
    }
}

/// <summary>
/// The DPO family (Rafailov et al. 2023 and successors, see <see cref="DirectPreferenceLoss"/>): chosen and rejected
/// responses go through the policy in one concatenated forward; the reference model (a frozen copy) scores the same
/// tokens without gradients, or once up front when precompute_ref_log_probs is set. Logs TRL's rewards/chosen,
/// rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected.
/// </summary>
public sealed class DpoTrainer : OfflineTrainer<DpoConfig>
{
    private readonly CausalLanguageModel? reference;
    private readonly IReadOnlyList<TokenizedPair> train, eval;
    private readonly BatchCollator collator;
    private readonly float[]? cachedReference;

    /// <summary>What tokenisation reported about the training pairs.</summary>
    public TokenizationReport Report { get; }

    /// <summary>
    /// Tokenises the pairs; <paramref name="reference"/> may be null only for the reference-free losses (SimPO, ORPO).
    /// </summary>
    public DpoTrainer(DpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, ITextEncoder encoder,
        IReadOnlyList<PreferenceExample> trainSet, IReadOnlyList<PreferenceExample>? evalSet, Action<string>? writeExtraFiles)
        : this(config, policy, reference, Tokenize(config, encoder, trainSet, evalSet), PaddingOptions.For(encoder), writeExtraFiles)
    {
    }

    /// <summary>
    /// Trains on pairs already tokenised, as iterative DPO builds them from sampled token ids (re-encoding decoded text
    /// could change the tokens, and would end a completion cut off by the length cap with EOS). They are used as given.
    /// </summary>
    public DpoTrainer(DpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, IReadOnlyList<TokenizedPair> trainPairs,
        IReadOnlyList<TokenizedPair>? evalPairs, PaddingOptions padding, Action<string>? writeExtraFiles)
        : this(config, policy, reference, Split(config, trainPairs, evalPairs), padding, writeExtraFiles)
    {
    }

    private sealed record Tokenized(IReadOnlyList<TokenizedPair> Train, IReadOnlyList<TokenizedPair> Eval, TokenizationReport Report);

    private static Tokenized Split(DpoConfig config, IReadOnlyList<TokenizedPair> trainPairs, IReadOnlyList<TokenizedPair>? evalPairs)
    {
        var (train, eval) = config.Training.EvaluationSplit(trainPairs, evalPairs);
        return new Tokenized(train, eval ?? [], new TokenizationReport());
    }

    private static Tokenized Tokenize(DpoConfig config, ITextEncoder encoder, IReadOnlyList<PreferenceExample> examples, IReadOnlyList<PreferenceExample>? evalExamples)
    {
        var (trainSet, evalSet) = config.Training.EvaluationSplit(examples, evalExamples);
        var options = config.Data.TokenizationOptions;
        var tokenizer = new DatasetTokenizer(encoder, options);
        var evalTokenizer = new DatasetTokenizer(encoder, options);
        IReadOnlyList<TokenizedPair> train = [.. trainSet.Select(e => WithWinRates(e, tokenizer.Preference(e), config.Loss.Type)).OfType<TokenizedPair>()];
        IReadOnlyList<TokenizedPair> eval = evalSet is null ? [] : [.. evalSet.Select(e => WithWinRates(e, evalTokenizer.Preference(e), config.Loss.Type)).OfType<TokenizedPair>()];
        return new Tokenized(train, eval, tokenizer.Report);
    }

    // SPPO's per-pair win-rates, read from the record's chosen_probs_win and chosen_probs_lose fields (the SPPO code's names).
    private static TokenizedPair? WithWinRates(PreferenceExample example, TokenizedPair? pair, PreferenceLossType loss)
    {
        if (pair is null) return null;
        float? Field(string name) => !example.Extra.TryGetValue(name, out var value) ? null
            : value.ValueKind == JsonValueKind.Number && value.GetSingle() is var q and >= 0 and <= 1 ? q
            : throw new InvalidDataException($"line {example.Line}: field \"{name}\" must be a probability in [0, 1].");
        var (win, lose) = (Field("chosen_probs_win"), Field("chosen_probs_lose"));
        if (win is { } w && lose is { } l) return pair with { WinRates = (w, l) };
        if (win is not null || lose is not null || loss == PreferenceLossType.Sppo)
            throw new InvalidDataException($"line {example.Line}: {(loss == PreferenceLossType.Sppo ? "loss_type sppo needs" : "give both")} fields \"chosen_probs_win\" and \"chosen_probs_lose\" (each response's estimated win-rate against the policy).");
        return pair;
    }

    private DpoTrainer(DpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, Tokenized pairs, PaddingOptions padding, Action<string>? writeExtraFiles)
        : base(config, policy, writeExtraFiles)
    {
        bool needsReference = config.Loss.Type.NeedsReference();
        if (needsReference && reference is null) throw new ArgumentException($"dpo: loss_type {ConfigBinder.SnakeCase(config.Loss.Type.ToString())} needs a reference model.");
        this.reference = needsReference ? reference : null;
        config.Training.Freeze(this.reference);
        (train, eval, Report) = (pairs.Train, pairs.Eval, pairs.Report);
        Report.RequireUsable("dpo", train.Count(p => p.Chosen.HasLossTokens && p.Rejected.HasLossTokens));
        RequireFits("dpo", "max_length", train.Max(p => Math.Max(p.Chosen.Length, p.Rejected.Length)));
        collator = new BatchCollator(padding);
        if (config.PrecomputeRefLogProbs && this.reference is not null)
        {
            // Chosen and rejected reference log-probs of every pair: [pair·2 + side].
            cachedReference = new float[2 * train.Count];
            for (int start = 0; start < train.Count; start += config.Training.PerDeviceEvalBatchSize)
            {
                int n = Math.Min(config.Training.PerDeviceEvalBatchSize, train.Count - start);
                var refs = ReferenceLogProbs(collator.Preference([.. train.Skip(start).Take(n)]), n);
                for (int i = 0; i < n; i++) { cachedReference[2 * (start + i)] = refs.Chosen[i]; cachedReference[2 * (start + i) + 1] = refs.Rejected[i]; }
            }
        }
    }

    /// <inheritdoc/>
    protected override int TrainCount => train.Count;

    /// <inheritdoc/>
    public override TokenizationReport DataReport => Report;

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var batch = collator.Preference([.. exampleIndices.Select(i => train[i])]);
        (float[] Chosen, float[] Rejected)? refs = cachedReference is null ? (reference is null ? null : ReferenceLogProbs(batch, batch.Pairs))
            : ([.. exampleIndices.Select(i => cachedReference[2 * i])], [.. exampleIndices.Select(i => cachedReference[2 * i + 1])]);
        var r = Loss(batch, refs, [.. exampleIndices.Select(i => train[i])]);
        return new StepOutput(r.Loss, Metrics(r));
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Count == 0) return null;
        var sums = new Dictionary<string, double>();
        for (int start = 0; start < eval.Count; start += Config.Training.PerDeviceEvalBatchSize)
        {
            var pairs = eval.Skip(start).Take(Config.Training.PerDeviceEvalBatchSize).ToList();
            var batch = collator.Preference(pairs);
            var r = Loss(batch, reference is null ? null : ReferenceLogProbs(batch, batch.Pairs), pairs);
            foreach (var (k, v) in Metrics(r).Append(KeyValuePair.Create("loss", (double)r.Loss.Item())))
                sums[k] = sums.GetValueOrDefault(k) + v * pairs.Count;
        }
        return sums.ToDictionary(kv => kv.Key, kv => kv.Value / eval.Count);
    }

    private PreferenceLossResult Loss(PreferenceBatch batch, (float[] Chosen, float[] Rejected)? refs, IReadOnlyList<TokenizedPair> pairs)
    {
        var (sums, lengths, _) = SequenceLogProbs.Compute(Model, batch.Tokens);
        float[]? referenceSums = refs is { } r ? [.. r.Chosen, .. r.Rejected] : null;
        var input = PreferenceLogProbs.Concatenated(sums, lengths, referenceSums, Config.Loss);
        if (pairs.All(p => p.WinRates is not null))
            input = input with { WinRates = ([.. pairs.Select(p => p.WinRates!.Value.Chosen)], [.. pairs.Select(p => p.WinRates!.Value.Rejected)]) };
        return DirectPreferenceLoss.Compute(input, Config.Loss);
    }

    private (float[] Chosen, float[] Rejected) ReferenceLogProbs(PreferenceBatch batch, int pairs)
    {
        var sums = SequenceLogProbs.FrozenSums(reference!, batch.Tokens);
        return (sums[..pairs], sums[pairs..]);
    }

    /// <summary>TRL's DPO metrics of a loss result.</summary>
    public static Dictionary<string, double> Metrics(PreferenceLossResult r) => new()
    {
        ["rewards/chosen"] = r.RewardsChosen, ["rewards/rejected"] = r.RewardsRejected, ["rewards/accuracies"] = r.RewardsAccuracy,
        ["rewards/margins"] = r.RewardsMargin, ["logps/chosen"] = r.LogpsChosen, ["logps/rejected"] = r.LogpsRejected,
    };
}
