using System.Text.Json;
using Reins.Feedback.Datasets;
using Reins.Alignment.Training;
using Reins.Feedback.Batching;
using Reins.Feedback.Sampling;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;

namespace Reins.Alignment.RewardModeling;

/// <summary>What every reward-model trainer's settings hold besides the training arguments.</summary>
public interface IRewardModelConfig : ITrainerConfig
{
    /// <summary>Longest sequence; longer records are dropped and counted.</summary>
    int MaxLength { get; }

    /// <summary>Training sequences whose scores define the normalisation statistics saved with the model.</summary>
    int RewardNormalizationSamples { get; }
}

/// <summary>
/// What the pairwise, regression and cost-model trainers share: the network made from the given model (a causal
/// LM gets a fresh score head; a reward model of the same width continues), the length limit, and the normalisation
/// statistics written beside every checkpoint and the final model, estimated from that checkpoint's own scores.
/// </summary>
public abstract class RewardModelTrainer<TConfig> : OfflineTrainer<TConfig> where TConfig : IRewardModelConfig
{
    private IReadOnlyList<TokenizedSequence>? normalizationSample;

    /// <summary>Turns <paramref name="model"/> into a reward model of <paramref name="labels"/>.Count outputs.</summary>
    /// <remarks>With <paramref name="headOnly"/> the trunk is frozen before the optimiser is made, so only the score head trains (ArmoRM's gating stage).</remarks>
    private protected RewardModelTrainer(TConfig config, CausalLanguageModel model, IReadOnlyList<string> labels, ITextEncoder encoder, Action<string>? writeExtraFiles, bool headOnly = false)
        : base(config, HeadOnly(RewardModelInitializer.FromLanguageModel(model, labels.Count, RewardModelInitializer.PaddingTokenId(encoder), config.Training.Seed), headOnly), writeExtraFiles)
    {
        Labels = labels;
        Collator = new BatchCollator(new PaddingOptions(Model.Config.PadTokenId!.Value));
        MaxLength = Math.Min(config.MaxLength, Model.Config.MaxPositions);
    }

    private static CausalLanguageModel HeadOnly(CausalLanguageModel network, bool headOnly)
    {
        if (headOnly)
            foreach (var p in network.Parameters) p.RequiresGrad = p.Name!.StartsWith(network.Config.ClassifierName + ".", StringComparison.Ordinal);
        return network;
    }

    /// <summary>The outputs of the score head.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>The effective length limit: max_length, or the model's n_positions when smaller.</summary>
    public int MaxLength { get; }

    /// <summary>Training and evaluation records dropped for exceeding <see cref="MaxLength"/>.</summary>
    public (int Train, int Eval) DroppedTooLong { get; private protected set; }

    /// <summary>Pads training and evaluation batches.</summary>
    private protected BatchCollator Collator { get; }

    /// <summary>The training sequences whose scores define the normalisation statistics.</summary>
    private protected abstract IReadOnlyList<TokenizedSequence> NormalizationReference { get; }

    /// <summary>Tokenisation for training: whole sequences, filtered by length afterwards.</summary>
    private protected static TokenizationOptions TrainingTokenization => new() { MaxLength = null };

    /// <summary>
    /// The training and evaluation pairs (eval_fraction held out when no evaluation set is given), tokenised whole, those
    /// longer than <see cref="MaxLength"/> dropped and counted in <see cref="DroppedTooLong"/>; no training pair left is an error.
    /// </summary>
    private protected (List<(PreferenceExample Example, TokenizedPair Pair)> Train, List<(PreferenceExample Example, TokenizedPair Pair)> Eval) PreferencePairs(
        IReadOnlyList<PreferenceExample> trainSet, IReadOnlyList<PreferenceExample>? evalSet, ITextEncoder encoder)
    {
        (trainSet, evalSet) = Config.Training.EvaluationSplit(trainSet, evalSet);
        var train = TokenizePairs(trainSet, encoder);
        if (train.Count == 0) throw new InvalidDataException($"rm: no training pair fits max_length {MaxLength} tokens.");
        var eval = evalSet is null ? [] : TokenizePairs(evalSet, encoder);
        DroppedTooLong = (trainSet.Count - train.Count, (evalSet?.Count ?? 0) - eval.Count);
        return (train, eval);
    }

    /// <summary>Preference pairs tokenised whole, keeping (as TRL) only those whose both sides fit <see cref="MaxLength"/>.</summary>
    private List<(PreferenceExample Example, TokenizedPair Pair)> TokenizePairs(IReadOnlyList<PreferenceExample> examples, ITextEncoder encoder)
    {
        var tokenizer = new DatasetTokenizer(encoder, TrainingTokenization);
        return [.. examples.Select(e => (Example: e, Pair: tokenizer.Preference(e)!))
            .Where(p => p.Pair.Chosen.Length <= MaxLength && p.Pair.Rejected.Length <= MaxLength)];
    }

    /// <summary>A pair's RewardBench category: its "category" field, or "subset" as RewardBench files name it.</summary>
    private protected static string? Category(PreferenceExample example) =>
        (example.Extra.TryGetValue("category", out var c) || example.Extra.TryGetValue("subset", out c)) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;

    /// <summary>The pair's annotator: its "annotator" field, else "group" (a string or a number).</summary>
    private protected static string Annotator(PreferenceExample example, string set)
    {
        foreach (var key in new[] { "annotator", "group" })
            if (example.Extra.TryGetValue(key, out var value))
                return value.ValueKind switch
                {
                    JsonValueKind.String => value.GetString()!,
                    JsonValueKind.Number => value.GetRawText(),
                    _ => throw new InvalidDataException($"{set} set, line {example.Line}: field \"{key}\" must be a string or a number."),
                };
        throw new InvalidDataException($"{set} set, line {example.Line}: this objective needs each pair's \"annotator\" (or \"group\") field.");
    }

    /// <summary>Saves the normalisation statistics of the weights being saved beside them.</summary>
    protected override void WriteExtraFiles(string directory)
    {
        base.WriteExtraFiles(directory);
        NormalizationStatistics().Save(directory);
    }

    /// <summary>The mean and std of the current model's scores over a seeded sample of the reference sequences.</summary>
    public RewardNormalization NormalizationStatistics()
    {
        normalizationSample ??= Sample(NormalizationReference);
        return RewardNormalization.Estimate(Labels, new RewardModel(Model, Labels).RawScores(normalizationSample, Config.Training.PerDeviceEvalBatchSize));
    }

    private IReadOnlyList<TokenizedSequence> Sample(IReadOnlyList<TokenizedSequence> reference) =>
        reference.Count <= Config.RewardNormalizationSamples ? reference
            : [.. Permutation.Shuffled(reference.Count, Config.Training.Seed)[..Config.RewardNormalizationSamples].Order().Select(i => reference[i])];
}
