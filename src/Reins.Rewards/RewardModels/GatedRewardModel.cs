using System.Text.Json;
using System.Text.Json.Serialization;
using Reins.Feedback.Batching;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.Scoring;
using Reins.Tensors;

namespace Reins.Rewards.RewardModels;

/// <summary>
/// ArmoRM's second stage (Wang et al. 2024, "Interpretable Preferences via Multi-Objective Reward Modeling and
/// Mixture-of-Experts"), settings saved as <see cref="FileName"/>: the attributes of a regression reward model,
/// standardised with its statistics and decorrelated from verbosity, r′ₖ = rₖ − λₖ·r_verbosity with λₖ = cov(rₖ,
/// r_verbosity)/var(r_verbosity) over the training responses (so a long answer is not paid through every attribute), are
/// combined by prompt-dependent weights g(x) = softmax(W·h(x)/T), h(x) the frozen trunk's hidden state at the prompt's
/// last token: R = β·Σₖ gₖ(x)·r′ₖ. W is one linear layer here (ArmoRM's gating network is an MLP).
/// </summary>
public sealed record GatingSettings(
    [property: JsonPropertyName("attributes")] IReadOnlyList<string> Attributes,
    [property: JsonPropertyName("attribute_mean")] float[] Mean,
    [property: JsonPropertyName("attribute_std")] float[] Std,
    [property: JsonPropertyName("verbosity_attribute")] string? Verbosity,
    [property: JsonPropertyName("decorrelation")] float[] Decorrelation,
    [property: JsonPropertyName("beta")] float Beta,
    [property: JsonPropertyName("temperature")] float Temperature)
{
    /// <summary>File name inside a gated reward model's directory.</summary>
    public const string FileName = "gating.json";

    /// <summary>The attribute head [K, hidden] of the regression model, beside the gate network's weights.</summary>
    public const string AttributeHeadFile = "attribute_head.safetensors";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/>.</summary>
    public void Save(string directory) => File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Indented));

    /// <summary>
    /// The decorrelation coefficients of standardised attribute scores [sequence, K]: cov(rₖ, r_v)/var(r_v) for every
    /// attribute but the verbosity one itself (0), all 0 without a verbosity attribute.
    /// </summary>
    public static float[] DecorrelationOf(ReadOnlySpan<float> standardised, IReadOnlyList<string> attributes, string? verbosity)
    {
        int k = attributes.Count, n = standardised.Length / k, v = verbosity is null ? -1 : attributes.ToList().IndexOf(verbosity);
        var lambda = new float[k];
        if (verbosity is not null && v < 0) throw new ArgumentException($"gating: verbosity attribute '{verbosity}' is not one of the model's ({string.Join(", ", attributes)}).");
        if (v < 0) return lambda;
        double meanV = 0;
        for (int i = 0; i < n; i++) meanV += standardised[i * k + v];
        meanV /= n;
        double varV = 0;
        for (int i = 0; i < n; i++) varV += Math.Pow(standardised[i * k + v] - meanV, 2);
        for (int j = 0; j < k; j++)
        {
            if (j == v || varV == 0) continue;
            double meanJ = 0, cov = 0;
            for (int i = 0; i < n; i++) meanJ += standardised[i * k + j];
            meanJ /= n;
            for (int i = 0; i < n; i++) cov += (standardised[i * k + j] - meanJ) * (standardised[i * k + v] - meanV);
            lambda[j] = (float)(cov / varV);
        }
        return lambda;
    }
}

/// <summary>A gated reward model: the gate network (trunk + gate head), the regression model's attribute head, and <see cref="GatingSettings"/>.</summary>
public sealed class GatedRewardModel(CausalLanguageModel network, float[] attributeHead, GatingSettings settings)
{
    /// <summary>The frozen trunk with the gate head as its score head.</summary>
    public CausalLanguageModel Network { get; } = network;

    /// <summary>The gating settings.</summary>
    public GatingSettings Settings { get; } = settings;

    /// <summary>Longest sequence the network takes.</summary>
    public int MaxLength => Network.Config.MaxPositions;

    /// <summary>Whether <paramref name="directory"/> holds a gated reward model.</summary>
    public static bool IsGated(string directory) => File.Exists(Path.Combine(directory, GatingSettings.FileName));

    /// <summary>Loads a directory written by <c>reins rm gate</c>.</summary>
    public static GatedRewardModel Load(string directory)
    {
        var path = Path.Combine(directory, GatingSettings.FileName);
        GatingSettings settings;
        try { settings = JsonSerializer.Deserialize<GatingSettings>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: expected a JSON object."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON: {e.Message}"); }
        int k = settings.Attributes?.Count ?? 0;
        if (k == 0 || settings.Mean?.Length != k || settings.Std?.Length != k || settings.Decorrelation?.Length != k)
            throw new InvalidDataException($"{path}: 'attributes', 'attribute_mean', 'attribute_std' and 'decorrelation' must have one entry per attribute.");
        var network = HfCheckpoint.Load(directory);
        if (network.Config.NumLabels != k) throw new InvalidDataException($"{directory}: the gate head has {network.Config.NumLabels} outputs for {k} attributes.");
        var head = new SafeTensorsReader(Path.Combine(directory, GatingSettings.AttributeHeadFile)).ReadFloats("attribute_head");
        if (head.Length != k * network.Config.HiddenSize) throw new InvalidDataException($"{directory}: {GatingSettings.AttributeHeadFile} holds {head.Length} values, not {k}×{network.Config.HiddenSize}.");
        return new GatedRewardModel(network, head, settings);
    }

    /// <summary>The tokenizer saved with the model.</summary>
    public Tokenizer TokenizerFrom(string directory) => Tokenizer.Load(directory).Fitting(Network.Config.VocabSize, directory);

    /// <summary>
    /// R [rows] of padded rows (differentiable in the gate head): the attributes read at each row's last token, the gate
    /// at its prompt's last token (the token before its first labelled one; its last token when none is labelled).
    /// </summary>
    public static (Tensor Rewards, Tensor Gates) Forward(CausalLanguageModel network, float[] attributeHead, GatingSettings settings, TokenBatch tokens)
    {
        int rows = tokens.Rows, k = settings.Attributes.Count;
        var hidden = network.Hidden(tokens.Input);
        var raw = Ops.Linear(CausalLanguageModel.AtLastToken(hidden, tokens.AttentionMask, tokens.Length), Tensor.FromArray(attributeHead, k, network.Config.HiddenSize), null, Ops.WeightLayout.OutIn).ToArray();
        // Standardised with the regression model's statistics, then decorrelated from verbosity: constants, since the attribute head is frozen.
        var attributes = new RewardNormalization(settings.Attributes, settings.Mean, settings.Std, 0).Normalize(raw);
        if (settings.Verbosity is { } name && settings.Attributes.ToList().IndexOf(name) is var v and >= 0)
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < k; j++)
                    if (j != v) attributes[r * k + j] -= settings.Decorrelation[j] * attributes[r * k + v];
        var promptEnds = CausalLanguageModel.AtPositions(hidden, [.. Enumerable.Range(0, rows).Select(tokens.PromptEndIndex)], tokens.Length);
        var logits = Ops.Linear(promptEnds, network.ScoreWeight!, null, Ops.WeightLayout.OutIn);
        var gates = Ops.Softmax(Ops.MulScalar(logits, 1f / settings.Temperature));
        var rewards = Ops.MulScalar(Ops.Sum(Ops.Mul(gates, Tensor.FromArray(attributes, rows, k)), 1), settings.Beta);
        return (Ops.Reshape(rewards, rows), gates);
    }

    /// <summary>R of each sequence and each attribute's gate, without gradients; sequences batched by length.</summary>
    public (float[] Rewards, float[] Gates) Score(IReadOnlyList<TokenizedSequence> sequences, int batchSize, CancellationToken cancellation = default)
    {
        int k = Settings.Attributes.Count;
        var rewards = new float[sequences.Count];
        var gates = new float[sequences.Count * k];
        foreach (var (rows, batch) in LengthBatches.Of(sequences, batchSize, Network.Config.PadTokenId ?? 0, cancellation, MaxLength, "gated reward model"))
        {
            using var tape = new Tape(recordGradients: false);
            var (r, g) = Forward(Network, attributeHead, Settings, batch);
            for (int i = 0; i < rows.Length; i++)
            {
                rewards[rows[i]] = r.Span[i];
                g.Span.Slice(i * k, k).CopyTo(gates.AsSpan(rows[i] * k, k));
            }
        }
        return (rewards, gates);
    }

    /// <summary>Writes the attribute head beside the gate network's weights.</summary>
    public static void SaveAttributeHead(string directory, float[] head, int attributes, int hidden) =>
        SafeTensorsWriter.Write(Path.Combine(directory, GatingSettings.AttributeHeadFile), [("attribute_head", [attributes, hidden], (ReadOnlyMemory<float>)head)]);
}
