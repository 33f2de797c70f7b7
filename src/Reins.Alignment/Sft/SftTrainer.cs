using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;
using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.Sft;

/// <summary>Settings of supervised fine-tuning, with TRL's SFTConfig names.</summary>
public sealed record SftConfig : ITrainerConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <summary>Tokens per example (prompt + completion); longer ones are truncated and counted.</summary>
    [JsonPropertyName("max_length"), Description("Tokens per example; longer examples are truncated (keep-start) and counted.")]
    public int MaxLength { get; init; } = 512;

    /// <summary>Concatenate examples into max_length blocks (best-fit decreasing), attention kept within each example.</summary>
    [JsonPropertyName("packing"), Description("Pack examples into max_length blocks; attention stays within each example.")]
    public bool Packing { get; init; }

    /// <summary>Learn only the completion of prompt-completion data (TRL's completion_only_loss).</summary>
    [JsonPropertyName("completion_only_loss"), Description("Train only on completions of prompt-completion data.")]
    public bool CompletionOnlyLoss { get; init; } = true;

    /// <summary>Learn only the assistant turns of conversations.</summary>
    [JsonPropertyName("assistant_only_loss"), Description("Train only on assistant turns of conversational data.")]
    public bool AssistantOnlyLoss { get; init; }

    /// <summary>Checks every SFT setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Settings.Require(MaxLength >= 2, "max_length", "must be at least 2");
    }
}

/// <summary>
/// Supervised fine-tuning (the first stage of InstructGPT): next-token cross-entropy averaged over the tokens that
/// carry a label, so prompts, padding and (optionally) user turns teach nothing. Logs TRL's num_tokens and
/// mean_token_accuracy; evaluation reports eval_loss and eval_perplexity = exp(eval_loss).
/// </summary>
public sealed class SftTrainer : OfflineTrainer<SftConfig>
{
    private readonly IReadOnlyList<PackedBlock> trainBlocks;
    private readonly IReadOnlyList<TokenizedSequence> train, eval;
    private readonly BatchCollator collator;

    /// <summary>What tokenisation (and packing) reported about the training set.</summary>
    public TokenizationReport Report { get; }

    /// <summary>Tokenises both sets up front so every epoch sees the same tokens.</summary>
    public SftTrainer(SftConfig config, CausalLanguageModel model, ITextEncoder encoder, IReadOnlyList<Example> trainSet, IReadOnlyList<Example>? evalSet, Action<string>? writeExtraFiles)
        : base(config, model, writeExtraFiles)
    {
        var tokenizer = new DatasetTokenizer(encoder, new TokenizationOptions
        {
            MaxLength = config.MaxLength, CompletionOnlyLoss = config.CompletionOnlyLoss, AssistantOnlyLoss = config.AssistantOnlyLoss,
        });
        (trainSet, evalSet) = config.Training.EvaluationSplit(trainSet, evalSet);
        train = [.. trainSet.Select(tokenizer.Sft).OfType<TokenizedSequence>()];
        Report = tokenizer.Report;
        eval = evalSet is null ? [] : [.. evalSet.Select(new DatasetTokenizer(encoder, tokenizer.Options).Sft).OfType<TokenizedSequence>()];
        Report.RequireUsable("sft", train.Count(s => s.HasLossTokens));
        RequireFits("sft", "max_length", train.Max(s => s.Length));
        collator = new BatchCollator(PaddingOptions.For(encoder));
        if (config.Packing)
        {
            var packed = SequencePacker.Pack(train, new PackingOptions(config.MaxLength, encoder.EosId ?? 0, encoder.PadId ?? encoder.EosId ?? 0));
            trainBlocks = packed.Blocks;
        }
        else trainBlocks = [];
    }

    /// <inheritdoc/>
    public override TokenizationReport DataReport => Report;

    /// <inheritdoc/>
    protected override int TrainCount => Config.Packing ? trainBlocks.Count : train.Count;

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var batch = Config.Packing ? BatchCollator.Packed([.. exampleIndices.Select(i => trainBlocks[i])]) : collator.Sft([.. exampleIndices.Select(i => train[i])]);
        var (loss, accuracy, tokens) = LanguageModelLoss(batch);
        return new StepOutput(loss, new Dictionary<string, double> { ["mean_token_accuracy"] = accuracy, ["num_tokens"] = tokens });
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Count == 0) return null;
        double lossSum = 0, correct = 0, tokens = 0;
        for (int start = 0; start < eval.Count; start += Config.Training.PerDeviceEvalBatchSize)
        {
            var (loss, accuracy, n) = LanguageModelLoss(collator.Sft([.. eval.Skip(start).Take(Config.Training.PerDeviceEvalBatchSize)]));
            lossSum += loss.Item() * n;
            correct += accuracy * n;
            tokens += n;
        }
        double mean = lossSum / Math.Max(1, tokens);
        return new Dictionary<string, double> { ["loss"] = mean, ["perplexity"] = Math.Exp(mean), ["mean_token_accuracy"] = correct / Math.Max(1, tokens) };
    }

    // Token-mean cross-entropy of a batch, its argmax accuracy and the number of labelled tokens.
    private (Tensor Loss, double Accuracy, int Tokens) LanguageModelLoss(SftBatch batch)
    {
        var t = batch.Tokens;
        var targets = t.NextTokenTargets();
        var logits = Model.Logits(batch.Input);
        int v = Model.Config.VocabSize, tokens = 0, correct = 0;
        var span = logits.Span;
        for (int i = 0; i < targets.Length; i++)
        {
            if (targets[i] == TokenizedSequence.IgnoreIndex) continue;
            tokens++;
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(span.Slice(i * v, v)) == targets[i]) correct++;
        }
        var loss = Ops.CrossEntropy(Ops.Reshape(logits, t.Rows * t.Length, v), targets);
        return (loss, (double)correct / Math.Max(1, tokens), tokens);
    }
}
