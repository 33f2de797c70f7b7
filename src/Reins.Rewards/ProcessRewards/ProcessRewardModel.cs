using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Tensors;

namespace Reins.Rewards.ProcessRewards;

/// <summary>A problem and the steps of one solution to it, the unit a process reward model scores.</summary>
/// <param name="Problem">The problem.</param>
/// <param name="Steps">The solution's steps, in order.</param>
public sealed record StepSolution(string Problem, IReadOnlyList<string> Steps)
{
    /// <summary>
    /// The steps of a generated text and where each ends (its separator included): the text split at
    /// <paramref name="separator"/>, each piece trimmed, blank pieces dropped.
    /// </summary>
    public static (string[] Steps, int[] EndChars) Split(string text, string separator)
    {
        var steps = new List<string>();
        var ends = new List<int>();
        int start = 0;
        while (start < text.Length)
        {
            int at = text.IndexOf(separator, start, StringComparison.Ordinal);
            int end = at < 0 ? text.Length : at + separator.Length;
            string step = text[start..(at < 0 ? text.Length : at)].Trim();
            if (step.Length > 0) { steps.Add(step); ends.Add(end); }
            start = end;
        }
        return ([.. steps], [.. ends]);
    }
}

/// <summary>
/// A process reward model (Lightman et al. 2023; TRL's PRMTrainer): a Hugging Face …ForTokenClassification network of
/// two labels (0 wrong, 1 correct) that reads a solution laid out as the problem and the step separator, then each
/// step followed by the separator, and judges each step at its separator's last token. A step's score is
/// P(correct) = softmax(logits)[1] there. The separator is saved beside the weights in <see cref="SettingsFileName"/>,
/// so training, scoring and evaluation lay text out alike.
/// </summary>
public sealed class ProcessRewardModel
{
    /// <summary>The file beside the weights holding <c>step_separator</c>.</summary>
    public const string SettingsFileName = "prm_config.json";

    /// <summary>TRL's default separator, assumed for a checkpoint without <see cref="SettingsFileName"/>.</summary>
    public const string DefaultSeparator = "\n";

    /// <summary>Wraps a …ForTokenClassification network of two labels.</summary>
    public ProcessRewardModel(CausalLanguageModel network, ITextEncoder encoder, string stepSeparator = DefaultSeparator)
    {
        if (!network.Config.TokenClassification || network.Config.NumLabels != 2)
            throw new ArgumentException($"process reward model: {network.Config.Architecture} with num_labels {network.Config.NumLabels?.ToString() ?? "unset"} is not a …ForTokenClassification model of two labels.", nameof(network));
        if (stepSeparator.Length == 0) throw new ArgumentException("process reward model: the step separator must not be empty.", nameof(stepSeparator));
        (Network, Encoder, StepSeparator) = (network, encoder, stepSeparator);
    }

    /// <summary>The …ForTokenClassification network.</summary>
    public CausalLanguageModel Network { get; }

    /// <summary>The tokenizer the model was trained with.</summary>
    public ITextEncoder Encoder { get; }

    /// <summary>The text after the problem and after every step.</summary>
    public string StepSeparator { get; }

    /// <summary>
    /// A fresh process reward model on <paramref name="source"/>'s trunk, as transformers'
    /// <c>AutoModelForTokenClassification.from_pretrained(causal_checkpoint, num_labels=2)</c> makes one: the head is drawn
    /// from <paramref name="seed"/> (weight N(0, initializer_range), bias 0) unless the source already is such a model.
    /// </summary>
    public static CausalLanguageModel FromLanguageModel(CausalLanguageModel source, ulong seed) =>
        RewardModelInitializer.WithHead(source, source.Config with { NumLabels = 2, TokenClassification = true }, seed);

    /// <summary>Loads a checkpoint directory, its tokenizer and its <see cref="SettingsFileName"/> (if any).</summary>
    public static ProcessRewardModel Load(string directory)
    {
        var (network, tokenizer) = HfCheckpoint.LoadWithTokenizer(directory);
        if (!network.Config.TokenClassification)
            throw new InvalidDataException($"{directory}: {network.Config.Architecture} is not a process reward model (…ForTokenClassification with num_labels 2).");
        return new ProcessRewardModel(network, new TokenizerEncoder(tokenizer), ReadSeparator(directory));
    }

    /// <summary>Writes <see cref="SettingsFileName"/> into <paramref name="directory"/>.</summary>
    public static void SaveSettings(string directory, string stepSeparator) =>
        File.WriteAllText(Path.Combine(directory, SettingsFileName), new JsonObject { ["step_separator"] = stepSeparator }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    private static string ReadSeparator(string directory)
    {
        var path = Path.Combine(directory, SettingsFileName);
        if (!File.Exists(path)) return DefaultSeparator;
        var json = JsonText.Parse(File.ReadAllBytes(path), path) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object.");
        return json["step_separator"] is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is { Length: > 0 } separator
            ? separator : throw new InvalidDataException($"{path}: field 'step_separator' must be a non-empty string.");
    }

    /// <summary>
    /// The logits [rows, length, 2] of a right-padded batch of laid-out solutions, and the token-classification loss:
    /// the mean cross-entropy over the positions whose label is not −100 (each step's last token).
    /// </summary>
    public static (Tensor Logits, Tensor Loss) Forward(CausalLanguageModel network, TokenBatch batch)
    {
        var logits = network.ScoresAllPositions(batch.Input);
        return (logits, Ops.CrossEntropy(Ops.Reshape(logits, batch.Rows * batch.Length, 2), batch.Labels));
    }

    /// <summary>P(correct) from a position's two logits.</summary>
    public static float Probability(ReadOnlySpan<float> logits) => 1f / (1f + MathF.Exp(logits[0] - logits[1]));

    /// <summary>
    /// Each solution's step scores, P(correct) per step, in input order, without gradients; a step whose label position
    /// falls beyond the model's positions (the layout is cut there) is null. Solutions are batched by length.
    /// </summary>
    public float?[][] StepScores(IReadOnlyList<StepSolution> solutions, int batchSize, CancellationToken cancellation = default)
    {
        var tokenizer = new DatasetTokenizer(Encoder, new TokenizationOptions { MaxLength = Network.Config.MaxPositions, TruncationMode = TruncationMode.KeepStart, AppendEos = false });
        var sequences = solutions.Select(s => Layout(tokenizer, s)).ToArray();
        var scores = new float?[solutions.Count][];
        foreach (var (rows, batch) in LengthBatches.Of(sequences, batchSize, Network.Config.PadTokenId ?? 0, cancellation, model: "process reward model"))
        {
            using var tape = new Tape(recordGradients: false);
            var logits = Network.ScoresAllPositions(batch.Input).Span;
            for (int r = 0; r < rows.Length; r++)
            {
                var scored = new float?[solutions[rows[r]].Steps.Count];
                int step = 0;
                for (int t = 0; t < batch.Length; t++)
                    if (batch.Labels[r * batch.Length + t] != TokenizedSequence.IgnoreIndex)
                        scored[step++] = Probability(logits.Slice((r * batch.Length + t) * 2, 2));
                scores[rows[r]] = scored;
            }
        }
        return scores;
    }

    // The training layout, labelled at every step so the labelled positions are the step ends that survived the cut.
    private TokenizedSequence Layout(DatasetTokenizer tokenizer, StepSolution solution)
    {
        if (solution.Steps.Count == 0) throw new ArgumentException("process reward model: a solution needs at least one step.", nameof(solution));
        return tokenizer.Stepwise(new StepwiseExample(solution.Problem, solution.Steps, [.. solution.Steps.Select(_ => true)]), StepSeparator)!;
    }
}
