using System.Text;
using System.Text.Json;

namespace Reins.Models.Tokenizers;

/// <summary>The pipeline a tokenizer.json describes, ready to run.</summary>
internal sealed record TokenizerPipeline(
    BpeModel Model,
    IReadOnlyList<AddedToken> AddedTokens,
    Normalizer? Normalizer,
    IReadOnlyList<PreTokenizer> PreTokenizers,
    PostProcessor? PostProcessor,
    Decoder? Decoder);

/// <summary>
/// Reads Hugging Face tokenizer.json (the format of the Rust `tokenizers` crate) for BPE models, with the
/// normalizers, pre-tokenizers, post-processors and decoders used by the GPT-2, Llama, Mistral and Qwen families.
/// </summary>
internal static class TokenizerJsonReader
{
    public static TokenizerPipeline Read(byte[] utf8, string file)
    {
        var root = JsonField.Parse(utf8, file);
        var added = root.Optional("added_tokens")?.Items().Select(ReadAddedToken).ToArray() ?? [];
        var model = ReadModel(root.Required("model"));
        var ids = model.Vocab.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        foreach (var token in added) ids[token.Content] = token.Id;
        return new TokenizerPipeline(
            model,
            added,
            root.Optional("normalizer") is { } n ? ReadNormalizer(n) : null,
            root.Optional("pre_tokenizer") is { } p ? ReadPreTokenizer(p) : [],
            root.Optional("post_processor") is { } pp ? ReadPostProcessor(pp, ids) : null,
            root.Optional("decoder") is { } d ? ReadDecoder(d, added.Select(t => t.Content).ToHashSet(StringComparer.Ordinal)) : null);
    }

    private static AddedToken ReadAddedToken(JsonField f) => new(
        f.Required("id").Id(),
        f.Required("content").String(),
        f.OptionalBool("special", false),
        f.OptionalBool("lstrip", false),
        f.OptionalBool("rstrip", false),
        f.OptionalBool("single_word", false),
        f.OptionalBool("normalized", false));

    private static BpeModel ReadModel(JsonField f)
    {
        string type = f.OptionalString("type") ?? "BPE";
        if (type != "BPE") throw f.Required("type").Error($"model type \"{type}\" is not supported (only BPE)");
        foreach (var affix in (string[])["continuing_subword_prefix", "end_of_word_suffix"])
            if (f.OptionalString(affix) is { Length: > 0 }) throw f.Required(affix).Error("subword prefixes and suffixes are not supported");

        var vocabField = f.Required("vocab");
        if (vocabField.Value.ValueKind != JsonValueKind.Object) throw vocabField.Error("expected an object mapping tokens to ids");
        var vocab = new Dictionary<string, int>(vocabField.Value.GetPropertyCount(), StringComparer.Ordinal);
        foreach (var entry in vocabField.Value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id is < 0 or >= JsonField.TokenIdLimit)
                throw vocabField.Error($"token {JsonSerializer.Serialize(entry.Name)} has id {entry.Value.GetRawText()}, expected a token id in [0, {JsonField.TokenIdLimit})");
            vocab[entry.Name] = id;
        }

        var mergesField = f.Optional("merges");
        var merges = new List<BpeMerge>();
        if (mergesField is { } mf)
        {
            if (mf.Value.ValueKind != JsonValueKind.Array) throw mf.Error("expected an array");
            int index = 0;
            foreach (var item in mf.Value.EnumerateArray())
            {
                var (left, right) = SplitMerge(item) ?? throw new JsonField(item, f.File, $"{mf.Path}[{index}]").Error("expected \"left right\" or [\"left\", \"right\"]");
                merges.Add(ResolveMerge(vocab, left, right) ?? throw new JsonField(item, f.File, $"{mf.Path}[{index}]")
                    .Error($"merge of {JsonSerializer.Serialize(left)} and {JsonSerializer.Serialize(right)} uses or makes a token missing from model.vocab"));
                index++;
            }
        }

        int? unknown = null;
        if (f.OptionalString("unk_token") is { } unk)
            unknown = vocab.TryGetValue(unk, out int unkId) ? unkId : throw f.Required("unk_token").Error($"\"{unk}\" is not in model.vocab");
        return new BpeModel(vocab, merges, unknown, f.OptionalBool("fuse_unk", false), f.OptionalBool("byte_fallback", false), f.OptionalBool("ignore_merges", false));
    }

    // Merges come as "left right" (older files) or as ["left", "right"] (newer ones, which allows spaces in tokens).
    private static (string, string)? SplitMerge(JsonElement item)
    {
        // A token escaping a lone surrogate is no text, so no merge either.
        if (item.ValueKind == JsonValueKind.String && JsonText.StringOrNull(item) is { } text)
        {
            int space = text.IndexOf(' ');
            return space > 0 && space < text.Length - 1 && text.IndexOf(' ', space + 1) < 0 ? (text[..space], text[(space + 1)..]) : null;
        }
        if (item.ValueKind == JsonValueKind.Array && item.GetArrayLength() == 2 && JsonText.StringOrNull(item[0]) is { } left && JsonText.StringOrNull(item[1]) is { } right)
            return (left, right);
        return null;
    }

    public static BpeMerge? ResolveMerge(Dictionary<string, int> vocab, string left, string right) =>
        vocab.TryGetValue(left, out int l) && vocab.TryGetValue(right, out int r) && vocab.TryGetValue(left + right, out int m) ? new BpeMerge(l, r, m) : null;

    private static Normalizer ReadNormalizer(JsonField f)
    {
        var typeField = f.Required("type");
        return typeField.String() switch
        {
            "Sequence" => new SequenceNormalizer(f.Required("normalizers").Items().Select(ReadNormalizer).ToArray()),
            "NFC" => new UnicodeFormNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeFormNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeFormNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeFormNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "Prepend" => new PrependNormalizer(f.Required("prepend").String()),
            "Replace" => new ReplaceNormalizer(ReadPattern(f.Required("pattern")), f.Required("content").String()),
            "Strip" => new StripNormalizer(f.OptionalBool("strip_left", true), f.OptionalBool("strip_right", true)),
            var other => throw typeField.Error($"normalizer \"{other}\" is not supported"),
        };
    }

    private static SplitPattern ReadPattern(JsonField f)
    {
        if (f.Optional("String") is { } literal) return SplitPattern.FromLiteral(literal.String());
        if (f.Optional("Regex") is { } regex)
        {
            // Oniguruma syntax .NET lacks (possessive quantifiers, \h, …) surfaces here rather than at first use.
            try { return SplitPattern.FromRegex(regex.String()); }
            catch (ArgumentException e) { throw regex.Error($"regex not supported by .NET's engine: {e.Message}"); }
        }
        throw f.Error("expected {\"String\": …} or {\"Regex\": …}");
    }

    private static PreTokenizer[] ReadPreTokenizer(JsonField f)
    {
        var typeField = f.Required("type");
        return typeField.String() switch
        {
            "Sequence" => f.Required("pretokenizers").Items().SelectMany(ReadPreTokenizer).ToArray(),
            "ByteLevel" => [new ByteLevelPreTokenizer(f.OptionalBool("add_prefix_space", true), f.OptionalBool("use_regex", true))],
            "Split" => [new SplitPreTokenizer(ReadPattern(f.Required("pattern")), ReadEnum<SplitBehavior>(f.Required("behavior")), f.OptionalBool("invert", false))],
            "Metaspace" => [new MetaspacePreTokenizer(ReadReplacement(f), ReadPrependScheme(f), f.OptionalBool("split", true))],
            var other => throw typeField.Error($"pre-tokenizer \"{other}\" is not supported"),
        };
    }

    private static char ReadReplacement(JsonField f)
    {
        var field = f.Required("replacement");
        var text = field.String();
        return text.Length == 1 ? text[0] : throw field.Error("expected a single character");
    }

    // Older files say add_prefix_space instead of prepend_scheme.
    private static PrependScheme ReadPrependScheme(JsonField f) =>
        f.Optional("prepend_scheme") is { } scheme ? ReadEnum<PrependScheme>(scheme)
        : f.OptionalBool("add_prefix_space", true) ? PrependScheme.Always : PrependScheme.Never;

    private static T ReadEnum<T>(JsonField f) where T : struct, Enum =>
        Enum.TryParse<T>(f.String(), ignoreCase: true, out var value) ? value
        : throw f.Error($"\"{f.String()}\" is not one of {string.Join(", ", Enum.GetNames<T>())}");

    private static PostProcessor? ReadPostProcessor(JsonField f, Dictionary<string, int> ids)
    {
        var typeField = f.Required("type");
        switch (typeField.String())
        {
            case "ByteLevel":
                return null;
            case "Sequence":
                var steps = f.Required("processors").Items().Select(p => ReadPostProcessor(p, ids)).OfType<PostProcessor>().ToArray();
                return steps.Length == 0 ? null : new SequencePostProcessor(steps);
            case "TemplateProcessing":
                var specials = f.Optional("special_tokens")?.Members().ToDictionary(m => m.Name, m => m.Value.Required("ids").Items().Select(i => Known(i, ids)).ToArray())
                    ?? [];
                return new TemplatePostProcessor(f.Required("single").Items().Select(item =>
                {
                    if (item.Optional("Sequence") is not null) return null;
                    var name = item.Required("SpecialToken").Required("id");
                    return specials.TryGetValue(name.String(), out var tokenIds) ? tokenIds : throw name.Error($"\"{name.String()}\" is not in post_processor.special_tokens");
                }).ToArray());
            case "BertProcessing" or "RobertaProcessing":
                return new ClsSepPostProcessor(ReadTokenPair(f.Required("cls"), ids), ReadTokenPair(f.Required("sep"), ids));
            case var other:
                throw typeField.Error($"post-processor \"{other}\" is not supported");
        }
    }

    // ["[CLS]", 101]
    private static int ReadTokenPair(JsonField f, Dictionary<string, int> ids) => f.Items().ElementAtOrDefault(1) is { Value.ValueKind: JsonValueKind.Number } id ? Known(id, ids) : throw f.Error("expected [token, id]");

    // An id a post-processor inserts must be a token: encoding would otherwise emit an id the model has no row for.
    private static int Known(JsonField f, Dictionary<string, int> ids) => f.Id() is var id && ids.ContainsValue(id) ? id : throw f.Error($"id {id} is no token of the vocabulary");

    private static Decoder ReadDecoder(JsonField f, IReadOnlySet<string> addedTokens)
    {
        var typeField = f.Required("type");
        return typeField.String() switch
        {
            "Sequence" => new SequenceDecoder(f.Required("decoders").Items().Select(d => ReadDecoder(d, addedTokens)).ToArray()),
            "ByteLevel" => new ByteLevelDecoder(addedTokens),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(ReadStripContent(f.Required("content")), f.Required("start").Int(), f.Required("stop").Int()),
            "Replace" => new ReplaceDecoder(ReadPattern(f.Required("pattern")), f.Required("content").String()),
            "Metaspace" => new MetaspaceDecoder(ReadReplacement(f), ReadPrependScheme(f) != PrependScheme.Never),
            var other => throw typeField.Error($"decoder \"{other}\" is not supported"),
        };
    }

    private static char ReadStripContent(JsonField f) => f.String() is { Length: 1 } s ? s[0] : throw f.Error("expected a single character");
}
