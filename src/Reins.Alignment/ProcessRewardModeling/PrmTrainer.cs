using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;
using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.ProcessRewards;
using Reins.Tensors;

namespace Reins.Alignment.ProcessRewardModeling;

/// <summary>Settings of process-reward-model training, with TRL's PRMConfig names.</summary>
public sealed record PrmConfig : ITrainerConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <summary>The text after the problem and after every step; saved with the model.</summary>
    [JsonPropertyName("step_separator"), Description("Text after the problem and after each step; a step's label sits on its last token. Saved with the model (prm_config.json).")]
    public string StepSeparator { get; init; } = ProcessRewardModel.DefaultSeparator;

    /// <summary>Tokens per record, the end cut (and counted) beyond it, as TRL.</summary>
    [JsonPropertyName("max_length"), Description("Tokens per record (problem + steps); longer records lose their end, and the steps cut off their labels (counted).")]
    public int MaxLength { get; init; } = 1024;

    /// <summary>Tokens of the problem (with its separator), its start cut beyond it.</summary>
    [JsonPropertyName("max_prompt_length"), Description("Tokens of the problem and its separator; a longer problem keeps its end (counted).")]
    public int? MaxPromptLength { get; init; } = 512;

    /// <summary>Tokens of the steps, their end cut beyond it.</summary>
    [JsonPropertyName("max_completion_length"), Description("Tokens of the steps; longer solutions keep their start (counted). Unset: no limit.")]
    public int? MaxCompletionLength { get; init; }

    /// <summary>Train on the last step's label only (evaluation still reads every step), as TRL.</summary>
    [JsonPropertyName("train_on_last_step_only"), Description("Learn only each training record's last step label (an outcome label); evaluation still scores every step.")]
    public bool TrainOnLastStepOnly { get; init; }

    /// <summary>TRL turns dropout off for PRM training; Reins' models have no dropout layers, so it is always off.</summary>
    [JsonPropertyName("disable_dropout"), Description("Dropout off while training (TRL's default). Reins' models have no dropout layers, so only true is accepted.")]
    public bool DisableDropout { get; init; } = true;

    /// <summary>Checks every PRM setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Settings.Require(StepSeparator.Length > 0, "step_separator", "must not be empty");
        Settings.Require(MaxLength >= 2, "max_length", "must be at least 2");
        Settings.Require(MaxPromptLength is null or > 0, "max_prompt_length", "must be positive");
        Settings.Require(MaxCompletionLength is null or > 0, "max_completion_length", "must be positive");
        Settings.Require(DisableDropout, "disable_dropout", "cannot be false: Reins' models have no dropout layers to turn on");
    }
}

/// <summary>
/// Process reward modelling (Lightman et al. 2023, Math-Shepherd; TRL's PRMTrainer): a two-label
/// …ForTokenClassification head on the model's trunk, trained by cross-entropy on each step's label at the step's last
/// token (the separator), averaged over the labelled positions of the batch. Logs accuracy over labelled steps;
/// evaluation adds the F1 of finding the wrong steps (label 0 the positive class; a step's prediction is the argmax of its logits, as TRL's accuracy).
/// </summary>
public sealed class PrmTrainer : OfflineTrainer<PrmConfig>
{
    private readonly IReadOnlyList<TokenizedSequence> train, eval;
    private readonly BatchCollator collator;

    /// <summary>What tokenisation reported about the training set.</summary>
    public TokenizationReport Report { get; }

    /// <summary>Tokenises both sets up front and puts a fresh two-label head on <paramref name="model"/> (unless it is a PRM already).</summary>
    public PrmTrainer(PrmConfig config, CausalLanguageModel model, ITextEncoder encoder, IReadOnlyList<StepwiseExample> trainSet, IReadOnlyList<StepwiseExample>? evalSet, Action<string>? writeExtraFiles)
        : base(config, ProcessRewardModel.FromLanguageModel(model, config.Training.Seed), writeExtraFiles)
    {
        // Steps end with the separator, never EOS, so a vocabulary without one serves too.
        var options = new TokenizationOptions { MaxLength = config.MaxLength, MaxPromptLength = config.MaxPromptLength, MaxCompletionLength = config.MaxCompletionLength, AppendEos = false };
        var tokenizer = new DatasetTokenizer(encoder, options);
        (trainSet, evalSet) = config.Training.EvaluationSplit(trainSet, evalSet);
        train = [.. trainSet.Select(e => tokenizer.Stepwise(e, config.StepSeparator, config.TrainOnLastStepOnly)!)];
        Report = tokenizer.Report;
        var evalTokenizer = new DatasetTokenizer(encoder, options);
        eval = evalSet is null ? [] : [.. evalSet.Select(e => evalTokenizer.Stepwise(e, config.StepSeparator)!)];
        Report.RequireUsable("prm", train.Count(s => s.HasLossTokens));
        RequireFits("prm", "max_length", train.Max(s => s.Length));
        collator = new BatchCollator(new PaddingOptions(encoder.PadId ?? encoder.EosId ?? 0));
    }

    /// <inheritdoc/>
    public override TokenizationReport DataReport => Report;

    /// <inheritdoc/>
    protected override int TrainCount => train.Count;

    /// <inheritdoc/>
    protected override void WriteExtraFiles(string directory)
    {
        base.WriteExtraFiles(directory);
        ProcessRewardModel.SaveSettings(directory, Config.StepSeparator);
    }

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var batch = collator.Sft([.. exampleIndices.Select(i => train[i])]).Tokens;
        var (logits, loss) = ProcessRewardModel.Forward(Model, batch);
        var counts = StepCounts.Of(logits.Span, batch.Labels);
        return new StepOutput(loss, new Dictionary<string, double> { ["accuracy"] = counts.Accuracy });
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Count == 0) return null;
        double lossSum = 0;
        var total = new StepCounts();
        for (int start = 0; start < eval.Count; start += Config.Training.PerDeviceEvalBatchSize)
        {
            var batch = collator.Sft([.. eval.Skip(start).Take(Config.Training.PerDeviceEvalBatchSize)]).Tokens;
            var (logits, loss) = ProcessRewardModel.Forward(Model, batch);
            var counts = StepCounts.Of(logits.Span, batch.Labels);
            lossSum += loss.Item() * counts.Steps;
            total += counts;
        }
        return new Dictionary<string, double>
        {
            ["loss"] = lossSum / Math.Max(1, total.Steps), ["accuracy"] = total.Accuracy, ["error_step_f1"] = total.ErrorStepF1,
        };
    }

    // Labelled steps and the confusion counts of the "wrong step" class.
    private readonly record struct StepCounts(int Steps, int Correct, int WrongFound, int WrongMissed, int FalseAlarms)
    {
        public double Accuracy => (double)Correct / Math.Max(1, Steps);

        // sklearn's convention: 0 when there is neither a wrong step nor a prediction of one.
        public double ErrorStepF1 => WrongFound == 0 ? 0 : 2.0 * WrongFound / (2 * WrongFound + WrongMissed + FalseAlarms);

        public static StepCounts operator +(StepCounts a, StepCounts b) =>
            new(a.Steps + b.Steps, a.Correct + b.Correct, a.WrongFound + b.WrongFound, a.WrongMissed + b.WrongMissed, a.FalseAlarms + b.FalseAlarms);

        public static StepCounts Of(ReadOnlySpan<float> logits, int[] labels)
        {
            var c = new StepCounts();
            for (int i = 0; i < labels.Length; i++)
            {
                if (labels[i] == TokenizedSequence.IgnoreIndex) continue;
                bool predictedCorrect = logits[i * 2 + 1] > logits[i * 2], correct = labels[i] == 1;
                c = c + new StepCounts(1, predictedCorrect == correct ? 1 : 0, !correct && !predictedCorrect ? 1 : 0, !correct && predictedCorrect ? 1 : 0, correct && !predictedCorrect ? 1 : 0);
            }
            return c;
        }
    }
}
