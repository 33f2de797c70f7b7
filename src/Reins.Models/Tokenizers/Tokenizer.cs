using System.Text;
namespace Reins.Models.Tokenizers;

/// <summary>
/// A Hugging Face compatible BPE tokenizer: loads tokenizer.json (byte-level BPE as in GPT-2, Llama-3 and Qwen, or
/// SentencePiece-style BPE with byte fallback as in Llama-2 and Mistral) or GPT-2's vocab.json + merges.txt, and
/// gives the same ids and text as the reference implementations. Thread-safe.
/// </summary>
public sealed class Tokenizer
{
    private static readonly string[] BosNames = ["<|bos|>", "<s>", "<|begin_of_text|>", "<|endoftext|>"];
    private static readonly string[] EosNames = ["<|eos|>", "</s>", "<|end_of_text|>", "<|endoftext|>"];
    private static readonly string[] PadNames = ["<|pad|>", "<pad>"];

    private readonly TokenizerPipeline _pipeline;
    private readonly AddedTokenMatcher _rawAddedTokens;
    private readonly AddedTokenMatcher _normalizedAddedTokens;
    private readonly string?[] _idToToken;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly HashSet<int> _specialIds;
    private readonly byte[] _tokenizerJson;
    private readonly TokenizerConfig? _config;

    [ThreadStatic] private static EncodeScratch? t_scratch;

    private Tokenizer(byte[] tokenizerJson, string source, TokenizerConfig? config, string? configSource)
    {
        _pipeline = TokenizerJsonReader.Read(tokenizerJson, source);
        _tokenizerJson = tokenizerJson;
        _config = config;
        _rawAddedTokens = new AddedTokenMatcher(_pipeline.AddedTokens.Where(t => !t.Normalized));
        _normalizedAddedTokens = new AddedTokenMatcher(_pipeline.AddedTokens.Where(t => t.Normalized));
        _tokenToId = new Dictionary<string, int>(_pipeline.Model.Vocab, StringComparer.Ordinal);
        foreach (var token in _pipeline.AddedTokens) _tokenToId[token.Content] = token.Id;
        // Sized by every id, not only those left in the map: an added token may take over a vocab token's text.
        _idToToken = new string?[_pipeline.Model.Vocab.Values.Concat(_pipeline.AddedTokens.Select(t => t.Id)).DefaultIfEmpty(-1).Max() + 1];
        foreach (var (token, id) in _pipeline.Model.Vocab) _idToToken[id] = token;
        foreach (var token in _pipeline.AddedTokens) _idToToken[token.Id] = token.Content;
        _specialIds = _pipeline.AddedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();

        BosId = Resolve(config is null ? null : (config.BosToken, "bos_token"), BosNames, configSource);
        EosId = Resolve(config is null ? null : (config.EosToken, "eos_token"), EosNames, configSource);
        PadId = Resolve(config is null ? null : (config.PadToken, "pad_token"), PadNames, configSource);
    }

    /// <summary>Number of ids (the largest id + 1), counting added tokens.</summary>
    public int VocabSize => _idToToken.Length;

    /// <summary>
    /// This tokenizer, when every id it produces has a row in a model of <paramref name="modelVocabSize"/>; otherwise an
    /// error naming <paramref name="directory"/>, since an id past the model's table fails only when a text produces it.
    /// </summary>
    public Tokenizer Fitting(int modelVocabSize, string directory) => VocabSize <= modelVocabSize ? this
        : throw new InvalidDataException($"{directory}: the tokenizer has {VocabSize} ids but the model's vocab_size is {modelVocabSize}; they do not belong together (use the model's own tokenizer, or resize its embeddings).");

    /// <summary>Beginning-of-sequence token: tokenizer_config.json's bos_token, else a conventional name among the special tokens.</summary>
    public int? BosId { get; }

    /// <summary>End-of-sequence token, found as <see cref="BosId"/> is.</summary>
    public int? EosId { get; }

    /// <summary>Padding token, found as <see cref="BosId"/> is.</summary>
    public int? PadId { get; }

    /// <summary>The Jinja chat template from tokenizer_config.json, if any (see Reins.Models.Chat for rendering).</summary>
    public string? ChatTemplate => _config?.ChatTemplate;

    /// <summary>
    /// Loads a tokenizer.json file, or a directory holding tokenizer.json or vocab.json + merges.txt; a
    /// tokenizer_config.json beside it supplies the BOS/EOS/PAD names and the chat template.
    /// </summary>
    public static Tokenizer Load(string path)
    {
        string directory;
        byte[] json;
        string source;
        if (Directory.Exists(path))
        {
            directory = path;
            source = Path.Combine(path, "tokenizer.json");
            if (File.Exists(source)) json = File.ReadAllBytes(source);
            else if (File.Exists(Path.Combine(path, Gpt2VocabFiles.VocabFile)) && File.Exists(Path.Combine(path, Gpt2VocabFiles.MergesFile)))
                json = Gpt2VocabFiles.ToTokenizerJson(path);
            else throw new FileNotFoundException($"{path}: holds neither tokenizer.json nor {Gpt2VocabFiles.VocabFile} + {Gpt2VocabFiles.MergesFile}", source);
        }
        else if (File.Exists(path))
        {
            directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
            source = path;
            json = File.ReadAllBytes(path);
        }
        else throw new FileNotFoundException($"{path}: no such tokenizer file or directory", path);

        string configPath = Path.Combine(directory, TokenizerConfig.FileName);
        var config = File.Exists(configPath) ? TokenizerConfig.Read(File.ReadAllBytes(configPath), configPath) : null;
        return new Tokenizer(json, source, config, configPath);
    }

    /// <summary>Reads tokenizer.json content; <paramref name="source"/> names it in error messages.</summary>
    public static Tokenizer FromJson(byte[] tokenizerJson, string source = "tokenizer.json") => new(tokenizerJson, source, null, null);

    /// <summary>
    /// A byte-level tokenizer for randomly initialised models: ids 0–255 are the bytes (spelt as GPT-2 spells
    /// them), 256–258 are &lt;|bos|&gt;, &lt;|eos|&gt;, &lt;|pad|&gt;, and the rest up to <paramref name="vocabSize"/>
    /// are &lt;|unused_N|&gt; placeholders. Encoding with special tokens prepends &lt;|bos|&gt;.
    /// </summary>
    public static Tokenizer CreateByteLevel(int vocabSize)
    {
        const int Specials = 3;
        if (vocabSize < 256 + Specials) throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, "a byte-level tokenizer needs at least 259 ids: 256 bytes, <|bos|>, <|eos|> and <|pad|>");
        var tokens = ByteLevelAlphabet.ByteToChar.Select(c => c.ToString()).Concat(["<|bos|>", "<|eos|>", "<|pad|>"]).ToList();
        for (int n = 0; tokens.Count < vocabSize; n++) tokens.Add($"<|unused_{n}|>");
        return FromJson(ByteLevelBpeJson.Write(tokens, [], Enumerable.Range(256, vocabSize - 256), bosId: 256), "CreateByteLevel");
    }

    /// <summary>
    /// Trains a GPT-2-style byte-level BPE on <paramref name="corpus"/> (one document per item) up to
    /// <paramref name="vocabSize"/> ids, counting the 256 byte tokens and <paramref name="specialTokens"/>.
    /// The result is deterministic for a given corpus and settings.
    /// </summary>
    public static Tokenizer TrainByteLevelBpe(IEnumerable<string> corpus, int vocabSize, IReadOnlyList<string> specialTokens) =>
        FromJson(ByteLevelBpeTrainer.Train(corpus, vocabSize, specialTokens, BosNames), "TrainByteLevelBpe");

    /// <summary>Writes tokenizer.json and tokenizer_config.json (token names and, when known, the chat template) to <paramref name="directory"/>.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "tokenizer.json"), _tokenizerJson);
        File.WriteAllBytes(Path.Combine(directory, TokenizerConfig.FileName), _config?.Json ?? GeneratedConfig());
    }

    private byte[] GeneratedConfig()
    {
        var config = new Dictionary<string, object?>
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["bos_token"] = BosId is { } b ? IdToToken(b) : null,
            ["eos_token"] = EosId is { } e ? IdToToken(e) : null,
            ["pad_token"] = PadId is { } p ? IdToToken(p) : null,
            ["clean_up_tokenization_spaces"] = false,
        };
        if (ChatTemplate is { } template) config["chat_template"] = template;
        return System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(config, new System.Text.Json.JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    /// <summary>The id of a token's text (vocabulary spelling, e.g. "Ġthe"), or null.</summary>
    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out int id) ? id : null;

    /// <summary>The vocabulary spelling of an id, or null when no token has it.</summary>
    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    /// <summary>Whether <paramref name="id"/> is an added token marked special (removed by skipSpecialTokens).</summary>
    public bool IsSpecial(int id) => _specialIds.Contains(id);

    /// <summary>Token ids of <paramref name="text"/>; added tokens such as &lt;|im_start|&gt; in the text become their ids.</summary>
    /// <param name="addSpecialTokens">Apply the post-processor's template (e.g. prepend BOS for Llama-2).</param>
    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        var scratch = t_scratch ??= new EncodeScratch();
        var ids = scratch.Ids;
        ids.Clear();
        var segments = scratch.RawSegments;
        segments.Clear();
        _rawAddedTokens.Split(text, segments);
        foreach (var segment in segments)
        {
            if (segment.Token is { } token) ids.Add(token.Id);
            else if (_pipeline.Normalizer is null && _normalizedAddedTokens.IsEmpty) EncodeText(text.AsSpan(segment.Start, segment.Length), segment.Start == 0, scratch);
            else EncodeNormalized(text.Substring(segment.Start, segment.Length), segment.Start == 0, scratch);
        }
        if (addSpecialTokens) _pipeline.PostProcessor?.AddSpecialTokens(ids);
        return [.. ids];
    }

    private void EncodeNormalized(string text, bool atStart, EncodeScratch scratch)
    {
        var normalized = _pipeline.Normalizer?.Normalize(text) ?? text;
        var segments = scratch.NormalizedSegments;
        segments.Clear();
        _normalizedAddedTokens.Split(normalized, segments);
        foreach (var segment in segments)
        {
            if (segment.Token is { } token) scratch.Ids.Add(token.Id);
            else EncodeText(normalized.AsSpan(segment.Start, segment.Length), atStart && segment.Start == 0, scratch);
        }
    }

    private void EncodeText(ReadOnlySpan<char> text, bool atStart, EncodeScratch scratch)
    {
        var pieces = PreTokenizer.Run(_pipeline.PreTokenizers, text, atStart, scratch.PiecesA, scratch.PiecesB);
        for (int i = 0; i < pieces.Count; i++) _pipeline.Model.Encode(pieces[i], scratch.Ids);
    }

    /// <summary>
    /// Text of <paramref name="ids"/> through the tokenizer's decoder. Ids that name no token are passed over,
    /// as the reference implementation does.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            if (IdToToken(id) is not { } token || skipSpecialTokens && _specialIds.Contains(id)) continue;
            tokens.Add(token);
        }
        if (_pipeline.Decoder is null) return string.Join(' ', tokens);
        _pipeline.Decoder.DecodeChain(tokens);
        return string.Concat(tokens);
    }

    /// <summary>
    /// The bytes one token stands for, as OpenAI's log-prob "bytes" field gives them: a byte-level token's own bytes (so
    /// a token holding part of a character gives that part, not U+FFFD), a byte-fallback token's byte, else the UTF-8
    /// of its decoded text.
    /// </summary>
    public byte[] TokenBytes(int id) =>
        (IdToToken(id) is { } token && !_specialIds.Contains(id) ? _pipeline.Decoder?.TokenBytes(token) : null) ?? Encoding.UTF8.GetBytes(Decode([id]));

    /// <summary>A decoder for generation that emits text as soon as it is complete UTF-8.</summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);

    // A name given in tokenizer_config.json must exist; without that file the conventional names are tried.
    private int? Resolve((string? Name, string Field)? configured, string[] fallbackNames, string? configSource)
    {
        if (configured is { } c)
            return c.Name is null ? null
                : TokenToId(c.Name) ?? throw new InvalidDataException($"{configSource}: {c.Field}: \"{c.Name}\" is not a token of this tokenizer");
        foreach (var name in fallbackNames)
            if (_tokenToId.TryGetValue(name, out int id) && _specialIds.Contains(id)) return id;
        return null;
    }

    private sealed class EncodeScratch
    {
        public readonly List<int> Ids = [];
        public readonly List<TextSegment> RawSegments = [];
        public readonly List<TextSegment> NormalizedSegments = [];
        public readonly PieceBuffer PiecesA = new();
        public readonly PieceBuffer PiecesB = new();
    }
}
