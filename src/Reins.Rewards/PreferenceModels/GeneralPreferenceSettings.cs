using System.Text.Json;
using System.Text.Json.Serialization;

namespace Reins.Rewards.PreferenceModels;

/// <summary>
/// What makes a …ForSequenceClassification checkpoint a general preference model (GPM; Zhang et al. 2024) rather than a
/// reward model, saved beside the weights as <see cref="FileName"/>: the score head's first <see cref="ValueHeadDim"/>
/// rows are the preference embedding read at the response's last token; with <see cref="PromptHead"/> the next
/// <see cref="ValueHeadDim"/>/2 rows are the prompt head, read at the prompt's last token, whose softmax gives the
/// prompt-dependent eigenvalues of the skew-symmetric operator.
/// </summary>
public sealed record GeneralPreferenceSettings
{
    /// <summary>File name inside a preference model directory.</summary>
    public const string FileName = "preference_model.json";

    /// <summary>The <see cref="ModelType"/> this file declares.</summary>
    public const string GeneralPreference = "general_preference";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Always <see cref="GeneralPreference"/>; a reader refuses other kinds.</summary>
    [JsonPropertyName("model_type")]
    public string ModelType { get; init; } = GeneralPreference;

    /// <summary>Dimension 2k of the preference embedding (k blocks of the skew-symmetric operator); the paper's code defaults to 2.</summary>
    [JsonPropertyName("value_head_dim")]
    public int ValueHeadDim { get; init; } = 2;

    /// <summary>Temperature τ of P(y₁ ≻ y₂) = σ(s(y₁, y₂)/τ); the paper's code defaults to 0.1.</summary>
    [JsonPropertyName("tau")]
    public float Tau { get; init; } = 0.1f;

    /// <summary>Prompt-dependent eigenvalues (the paper's <c>add_prompt_head</c>).</summary>
    [JsonPropertyName("add_prompt_head")]
    public bool PromptHead { get; init; }

    /// <summary>
    /// Whether embeddings are centred before they are normalised: during training on the batch mean, at inference on
    /// the mean saved in reward_normalization.json (see <see cref="GeneralPreferenceModel"/> for why).
    /// </summary>
    [JsonPropertyName("center_embeddings")]
    public bool CenterEmbeddings { get; init; } = true;

    /// <summary>Blocks k of the operator.</summary>
    [JsonIgnore]
    public int Blocks => ValueHeadDim / 2;

    /// <summary>Outputs of the score head: the embedding, then the prompt head's gates.</summary>
    [JsonIgnore]
    public int HeadOutputs => ValueHeadDim + (PromptHead ? Blocks : 0);

    /// <summary>Names of the score head's outputs, as saved in the checkpoint's statistics.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Labels =>
        [.. Enumerable.Range(0, ValueHeadDim).Select(i => $"v{i}"), .. Enumerable.Range(0, PromptHead ? Blocks : 0).Select(i => $"prompt_gate{i}")];

    /// <summary>Checks the settings; errors name the setting.</summary>
    public GeneralPreferenceSettings Validate()
    {
        if (ModelType != GeneralPreference) throw new ArgumentException($"model_type: '{ModelType}' is not '{GeneralPreference}'.");
        if (ValueHeadDim < 2 || ValueHeadDim % 2 != 0) throw new ArgumentException($"value_head_dim: {ValueHeadDim} must be an even number of at least 2 (the operator has 2×2 blocks).");
        if (!(Tau > 0) || !float.IsFinite(Tau)) throw new ArgumentException($"tau: {Tau} must be positive.");
        if (PromptHead && ValueHeadDim < 4) throw new ArgumentException("add_prompt_head: needs value_head_dim of at least 4; with one block the softmax eigenvalue is always 1.");
        return this;
    }

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/>.</summary>
    public void Save(string directory) => File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Indented));

    /// <summary>Reads <see cref="FileName"/> from <paramref name="directory"/>, or null when the directory has none.</summary>
    public static GeneralPreferenceSettings? Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return (JsonSerializer.Deserialize<GeneralPreferenceSettings>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: expected a JSON object.")).Validate();
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON: {e.Message}"); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
    }
}
