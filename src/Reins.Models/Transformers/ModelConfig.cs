using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reins.Models.Transformers;

/// <summary>The two decoder families real checkpoints use.</summary>
public enum ModelFamily
{
    /// <summary>GPT-2: learned positions, LayerNorm, GELU(tanh) MLP, biases, Conv1D weights.</summary>
    Gpt2,
    /// <summary>Llama, Qwen2, Mistral, SmolLM: RoPE, RMSNorm, SwiGLU, grouped-query attention.</summary>
    Llama,
}

/// <summary>
/// Architecture hyperparameters of a decoder-only transformer, named as in Hugging Face's config.json
/// (the mapping lives in <see cref="FromHuggingFace"/> and <see cref="ToHuggingFace"/>).
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Family of the architecture.</summary>
    public ModelFamily Family { get; init; }
    /// <summary>HF model_type (gpt2, llama, qwen2, mistral).</summary>
    public string ModelType { get; init; } = "gpt2";
    /// <summary>Vocabulary size.</summary>
    public int VocabSize { get; init; }
    /// <summary>Width of the residual stream.</summary>
    public int HiddenSize { get; init; }
    /// <summary>Number of transformer blocks.</summary>
    public int Layers { get; init; }
    /// <summary>Query heads.</summary>
    public int Heads { get; init; }
    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="Heads"/>).</summary>
    public int KvHeads { get; init; }
    /// <summary>Per-head width; may differ from HiddenSize/Heads in Llama-family configs.</summary>
    public int HeadDim { get; init; }
    /// <summary>Hidden width of the MLP.</summary>
    public int IntermediateSize { get; init; }
    /// <summary>Longest sequence the position table covers.</summary>
    public int MaxPositions { get; init; }
    /// <summary>ε of LayerNorm / RMSNorm.</summary>
    public float NormEps { get; init; } = 1e-5f;
    /// <summary>RoPE base θ.</summary>
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>Whether the LM head shares the token-embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; } = true;
    /// <summary>Biases on q, k, v (Qwen2, or Llama with attention_bias).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Bias on the attention output projection (Llama's attention_bias; Qwen2 has none).</summary>
    public bool OutputBias { get; init; }
    /// <summary>GPT-2 activation: gelu_new (tanh approximation) or gelu (exact).</summary>
    public string Activation { get; init; } = "gelu_new";
    /// <summary>Std of the normal initialiser (initializer_range).</summary>
    public float InitializerRange { get; init; } = 0.02f;
    /// <summary>Token ids of BOS/EOS/PAD when known.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>End-of-sequence token id.</summary>
    public int? EosTokenId { get; init; }
    /// <summary>Padding token id.</summary>
    public int? PadTokenId { get; init; }
    /// <summary>
    /// Outputs of the <c>score</c> head when this is a …ForSequenceClassification model (reward models, critics);
    /// null for a causal language model. Classification checkpoints carry no <c>lm_head</c>.
    /// </summary>
    public int? NumLabels { get; init; }
    /// <summary>
    /// Whether the <see cref="NumLabels"/> head reads every position with a bias (…ForTokenClassification: process reward
    /// models, <c>classifier</c> for GPT-2 and <c>score</c> for the Llama family) rather than the last real token
    /// without one (…ForSequenceClassification).
    /// </summary>
    public bool TokenClassification { get; init; }
    /// <summary>Llama-family RoPE frequency scaling (config.json's rope_scaling), or null.</summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>Hugging Face's architecture class name for this config.</summary>
    public string Architecture => (Family, ModelType) switch
    {
        (ModelFamily.Gpt2, _) => "GPT2",
        (_, "qwen2") => "Qwen2",
        (_, "mistral") => "Mistral",
        _ => "Llama",
    } + (NumLabels is null ? (Family == ModelFamily.Gpt2 ? "LMHeadModel" : "ForCausalLM") : TokenClassification ? "ForTokenClassification" : "ForSequenceClassification");

    /// <summary>The name of the classification head's parameters: transformers' GPT2ForTokenClassification calls it <c>classifier</c>, every other head here <c>score</c>.</summary>
    public string ClassifierName => TokenClassification && Family == ModelFamily.Gpt2 ? "classifier" : "score";

    /// <summary>Checks internal consistency, naming the offending field.</summary>
    public ModelConfig Validate(string source = "config")
    {
        void Require(bool ok, string field, string why) { if (!ok) throw new InvalidDataException($"{source}: field '{field}' {why}."); }
        Require(VocabSize > 0, "vocab_size", "must be positive");
        Require(HiddenSize > 0, "hidden_size", "must be positive");
        Require(Layers > 0, "num_hidden_layers", "must be positive");
        Require(Heads > 0, "num_attention_heads", "must be positive");
        Require(KvHeads > 0 && Heads % KvHeads == 0, "num_key_value_heads", $"({KvHeads}) must divide num_attention_heads ({Heads})");
        Require(HeadDim > 0 && (Family == ModelFamily.Llama ? HeadDim % 2 == 0 : HeadDim * Heads == HiddenSize), "head_dim",
            Family == ModelFamily.Llama ? "must be even for rotary embeddings" : "times heads must equal the hidden size");
        Require(IntermediateSize > 0, "intermediate_size", "must be positive");
        Require(MaxPositions > 0, "max_position_embeddings", "must be positive");
        Require(NumLabels is null or > 0, "num_labels", "must be positive");
        Require(!TokenClassification || NumLabels is not null, "num_labels", "must be set for a …ForTokenClassification head");
        Require(RopeScaling is null || Family == ModelFamily.Llama, "rope_scaling", "applies only to rotary (Llama-family) models");
        Require(Family != ModelFamily.Gpt2 || Activation is "gelu_new" or "gelu_pytorch_tanh" or "gelu", "activation_function",
            $"is '{Activation}'; GPT-2 here implements gelu_new (the same as gelu_pytorch_tanh) and gelu");
        Require(NormEps > 0 && float.IsFinite(NormEps), Family == ModelFamily.Gpt2 ? "layer_norm_epsilon" : "rms_norm_eps", "must be a positive finite number");
        Require(RopeTheta > 0 && float.IsFinite(RopeTheta), "rope_theta", "must be a positive finite number");
        Require(InitializerRange >= 0 && float.IsFinite(InitializerRange), "initializer_range", "must be a non-negative finite number");
        foreach (var (field, id) in new[] { ("bos_token_id", BosTokenId), ("eos_token_id", EosTokenId), ("pad_token_id", PadTokenId) })
            Require(id is null || id >= 0 && id < VocabSize, field, $"({id}) is not an id of the vocabulary of {VocabSize}");
        return this;
    }

    /// <summary>A GPT-2 family config with the usual derived defaults.</summary>
    public static ModelConfig Gpt2(int vocab, int hidden, int layers, int heads, int maxPositions, int? intermediate = null) => new ModelConfig
    {
        Family = ModelFamily.Gpt2, ModelType = "gpt2", VocabSize = vocab, HiddenSize = hidden, Layers = layers, Heads = heads,
        KvHeads = heads, HeadDim = hidden / heads, IntermediateSize = intermediate ?? 4 * hidden, MaxPositions = maxPositions,
        NormEps = 1e-5f, TieWordEmbeddings = true,
    }.Validate();

    /// <summary>A Llama family config; the MLP width defaults to Llama's rule ⌈8H/3⌉ rounded up to a multiple of 64.</summary>
    public static ModelConfig Llama(int vocab, int hidden, int layers, int heads, int maxPositions, int? kvHeads = null, int? intermediate = null, bool tie = true) => new ModelConfig
    {
        Family = ModelFamily.Llama, ModelType = "llama", VocabSize = vocab, HiddenSize = hidden, Layers = layers, Heads = heads,
        KvHeads = kvHeads ?? heads, HeadDim = hidden / heads, IntermediateSize = intermediate ?? LlamaIntermediate(hidden),
        MaxPositions = maxPositions, NormEps = 1e-6f, RopeTheta = 10000f, TieWordEmbeddings = tie,
    }.Validate();

    /// <summary>
    /// The parameters a model of this config registers (embeddings, blocks, final norm, an untied LM head or a score
    /// head), counted without building it: a 1.5B-parameter config is planned for, not allocated.
    /// </summary>
    public long ParameterCount()
    {
        // Checked: a config too large to count is an OverflowException, never a negative or wrapped count.
        checked
        {
            long c = HiddenSize, f = IntermediateSize, layers = Layers, vocab = VocabSize;
            long head = NumLabels is { } labels ? labels * c + (TokenClassification ? labels : 0) : TieWordEmbeddings ? 0 : vocab * c;
            if (Family == ModelFamily.Gpt2)
                // Per block: two LayerNorms (2c each), c_attn (c·3c + 3c), c_proj (c·c + c), c_fc (c·f + f), mlp.c_proj (f·c + c).
                return vocab * c + MaxPositions * c + layers * (4 * c + 3 * c * c + 3 * c + c * c + c + c * f + f + f * c + c) + 2 * c + head;
            long q = (long)Heads * HeadDim, kv = (long)KvHeads * HeadDim;
            long attention = c * q + 2 * c * kv + q * c + (QkvBias ? q + 2 * kv : 0) + (OutputBias ? c : 0);
            return vocab * c + layers * (2 * c + attention + 3 * c * f) + c + head;
        }
    }

    /// <summary>Llama's MLP width rule: ⌈8H/3⌉ rounded up to a multiple of 64.</summary>
    public static int LlamaIntermediate(int hidden) => ((8 * hidden + 2) / 3 + 63) / 64 * 64;

    /// <summary>Reads a Hugging Face config.json object.</summary>
    public static ModelConfig FromHuggingFace(JsonObject json, string source)
    {
        // Every read checks the JSON type first, so a wrong one is an error naming the field, never a parser exception.
        InvalidDataException Bad(string key, string expected, JsonNode? n) => new($"{source}: field '{key}' must be {expected}, got {n?.ToJsonString() ?? "null"}.");
        string? Text(string key) => json[key] is not JsonNode n ? null
            : n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : throw Bad(key, "a string", n);
        int GetInt(JsonNode n, string key) => n.GetValueKind() == JsonValueKind.Number && n.AsValue().TryGetValue<int>(out int v) ? v : throw Bad(key, "an integer", n);
        int Int(string key, int? fallback = null) => json[key] is JsonNode n ? GetInt(n, key) : fallback ?? throw new InvalidDataException($"{source}: field '{key}' is missing.");
        float Float(string key, float fallback) => json[key] is not JsonNode n ? fallback
            : n.GetValueKind() == JsonValueKind.Number && n.AsValue().TryGetValue<double>(out double v) && float.IsFinite((float)v) ? (float)v : throw Bad(key, "a finite number", n);
        bool Bool(string key, bool fallback) => json[key] is JsonNode n ? (n.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? n.GetValue<bool>() : throw Bad(key, "true or false", n)) : fallback;
        // A special token's id; transformers also allows a list (several EOS ids), which is left to the tokenizer here.
        int? OptInt(string key) => json[key] is JsonNode n && n.GetValueKind() == JsonValueKind.Number ? GetInt(n, key) : null;
        string type = Text("model_type") ?? throw new InvalidDataException($"{source}: field 'model_type' is missing.");
        var config = Parse();
        string? arch = json["architectures"] is JsonArray { Count: > 0 } archs
            ? archs[0] is JsonNode first && first.GetValueKind() == JsonValueKind.String ? first.GetValue<string>() : throw Bad("architectures", "a list of class names", json["architectures"])
            : null;
        bool tokens = arch is not null && arch.EndsWith("ForTokenClassification", StringComparison.Ordinal);
        if (tokens || arch is not null && arch.EndsWith("ForSequenceClassification", StringComparison.Ordinal))
        {
            // transformers writes id2label rather than num_labels; either defines the head's width (default 2, as HF).
            int labels = OptInt("num_labels") ?? (json["id2label"] as JsonObject)?.Count ?? 2;
            config = config with { NumLabels = labels, TokenClassification = tokens };
        }
        else if (arch is not null && !arch.EndsWith("LMHeadModel", StringComparison.Ordinal) && !arch.EndsWith("ForCausalLM", StringComparison.Ordinal))
            throw new InvalidDataException($"{source}: field 'architectures' names {arch}; supported are …LMHeadModel/…ForCausalLM, …ForSequenceClassification and …ForTokenClassification.");
        if (type != "gpt2" && Text("hidden_act") is { } act && act != "silu")
            throw new InvalidDataException($"{source}: field 'hidden_act' is '{act}'; the Llama family here implements 'silu'.");
        if (type == "gpt2")
            foreach (var (key, expected) in new[] { ("scale_attn_weights", true), ("scale_attn_by_inverse_layer_idx", false), ("reorder_and_upcast_attn", false) })
                if (json[key] is JsonNode n && n.GetValueKind() is JsonValueKind.True or JsonValueKind.False && n.GetValue<bool>() != expected)
                    throw new InvalidDataException($"{source}: field '{key}' = {!expected} is not supported (only the GPT-2 default {expected}).");
        return config.Validate(source);

        ModelConfig Parse()
        {
        switch (type)
        {
            case "gpt2":
            {
                int hidden = Int("n_embd"), heads = Int("n_head");
                return new ModelConfig
                {
                    Family = ModelFamily.Gpt2, ModelType = type, VocabSize = Int("vocab_size"), HiddenSize = hidden, Layers = Int("n_layer"),
                    Heads = heads, KvHeads = heads, HeadDim = heads > 0 ? hidden / heads : 0, IntermediateSize = Int("n_inner", 4 * hidden),
                    MaxPositions = Int("n_positions"), NormEps = Float("layer_norm_epsilon", 1e-5f), TieWordEmbeddings = Bool("tie_word_embeddings", true),
                    Activation = Text("activation_function") ?? "gelu_new", InitializerRange = Float("initializer_range", 0.02f),
                    BosTokenId = OptInt("bos_token_id"), EosTokenId = OptInt("eos_token_id"), PadTokenId = OptInt("pad_token_id"),
                };
            }
            case "llama" or "qwen2" or "mistral":
            {
                int hidden = Int("hidden_size"), heads = Int("num_attention_heads");
                bool attentionBias = Bool("attention_bias", false);
                return new ModelConfig
                {
                    Family = ModelFamily.Llama, ModelType = type, VocabSize = Int("vocab_size"), HiddenSize = hidden, Layers = Int("num_hidden_layers"),
                    Heads = heads, KvHeads = Int("num_key_value_heads", heads), HeadDim = Int("head_dim", heads > 0 ? hidden / heads : 0),
                    IntermediateSize = Int("intermediate_size"), MaxPositions = Int("max_position_embeddings"), NormEps = Float("rms_norm_eps", 1e-6f),
                    RopeTheta = Float("rope_theta", 10000f), TieWordEmbeddings = Bool("tie_word_embeddings", type == "qwen2"),
                    QkvBias = type == "qwen2" || attentionBias, OutputBias = type != "qwen2" && attentionBias,
                    InitializerRange = Float("initializer_range", 0.02f),
                    BosTokenId = OptInt("bos_token_id"), EosTokenId = OptInt("eos_token_id"), PadTokenId = OptInt("pad_token_id"),
                    RopeScaling = json["rope_scaling"] switch
                    {
                        null => null,
                        JsonObject rs => Transformers.RopeScaling.FromHuggingFace(rs, source),
                        var other => throw Bad("rope_scaling", "an object or null", other),
                    },
                };
            }
            default:
                throw new InvalidDataException($"{source}: model_type '{type}' is not supported (gpt2, llama, qwen2, mistral).");
        }
        }
    }

    /// <summary>Writes the Hugging Face config.json object for this architecture.</summary>
    public JsonObject ToHuggingFace()
    {
        var o = new JsonObject();
        if (Family == ModelFamily.Gpt2)
        {
            o["model_type"] = "gpt2";
            o["vocab_size"] = VocabSize; o["n_embd"] = HiddenSize; o["n_layer"] = Layers; o["n_head"] = Heads;
            o["n_positions"] = MaxPositions; o["n_inner"] = IntermediateSize; o["layer_norm_epsilon"] = NormEps;
            o["activation_function"] = Activation;
        }
        else
        {
            o["model_type"] = ModelType;
            o["vocab_size"] = VocabSize; o["hidden_size"] = HiddenSize; o["num_hidden_layers"] = Layers;
            o["num_attention_heads"] = Heads; o["num_key_value_heads"] = KvHeads; o["head_dim"] = HeadDim;
            o["intermediate_size"] = IntermediateSize; o["max_position_embeddings"] = MaxPositions;
            o["rms_norm_eps"] = NormEps; o["rope_theta"] = RopeTheta; o["hidden_act"] = "silu";
            if (ModelType != "qwen2") o["attention_bias"] = QkvBias;
            if (RopeScaling is { } rs) o["rope_scaling"] = rs.ToHuggingFace();
        }
        o["architectures"] = new JsonArray(Architecture);
        if (NumLabels is { } labels)
        {
            o["num_labels"] = labels;
            o["id2label"] = new JsonObject(Enumerable.Range(0, labels).Select(i => KeyValuePair.Create(i.ToString(), (JsonNode?)$"LABEL_{i}")));
            o["label2id"] = new JsonObject(Enumerable.Range(0, labels).Select(i => KeyValuePair.Create($"LABEL_{i}", (JsonNode?)i)));
        }
        o["tie_word_embeddings"] = TieWordEmbeddings;
        o["initializer_range"] = InitializerRange;
        if (BosTokenId is { } bos) o["bos_token_id"] = bos;
        if (EosTokenId is { } eos) o["eos_token_id"] = eos;
        if (PadTokenId is { } pad) o["pad_token_id"] = pad;
        o["torch_dtype"] = "float32";
        return o;
    }
}
