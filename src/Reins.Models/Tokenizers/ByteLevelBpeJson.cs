using System.Text.Json;

namespace Reins.Models.Tokenizers;

/// <summary>
/// Writes the tokenizer.json of a GPT-2-style byte-level BPE (ByteLevel pre-tokenizer with GPT-2's regex, no
/// normalizer, ByteLevel decoder), for tokenizers we build rather than load: GPT-2's vocab.json + merges.txt,
/// <see cref="Tokenizer.CreateByteLevel"/> and <see cref="Tokenizer.TrainByteLevelBpe"/>. Loading the result
/// through the ordinary reader keeps one code path for all tokenizers.
/// </summary>
internal static class ByteLevelBpeJson
{
    /// <param name="tokens">Token text by id.</param>
    /// <param name="merges">Merge rules in rank order.</param>
    /// <param name="specialIds">Ids of the special (added) tokens.</param>
    /// <param name="bosId">When set, encoding with special tokens prepends this token.</param>
    public static byte[] Write(IReadOnlyList<string> tokens, IEnumerable<(string Left, string Right)> merges, IEnumerable<int> specialIds, int? bosId)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            foreach (int id in specialIds.Order())
            {
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("content", tokens[id]);
                foreach (var flag in (string[])["single_word", "lstrip", "rstrip", "normalized"]) w.WriteBoolean(flag, false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            WriteByteLevel(w, "pre_tokenizer", useRegex: true);
            if (bosId is { } bos) WriteBosTemplate(w, tokens[bos], bos);
            else WriteByteLevel(w, "post_processor", useRegex: false);
            WriteByteLevel(w, "decoder", useRegex: true);
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            for (int id = 0; id < tokens.Count; id++) w.WriteNumber(tokens[id], id);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var (left, right) in merges)
            {
                w.WriteStartArray();
                w.WriteStringValue(left);
                w.WriteStringValue(right);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, string name, bool useRegex)
    {
        w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", useRegex);
        w.WriteEndObject();
    }

    private static void WriteBosTemplate(Utf8JsonWriter w, string bos, int bosId)
    {
        w.WriteStartObject("post_processor");
        w.WriteString("type", "TemplateProcessing");
        foreach (var (name, sequences) in (ReadOnlySpan<(string, string[])>)[("single", ["A"]), ("pair", ["A", "B"])])
        {
            w.WriteStartArray(name);
            for (int i = 0; i < sequences.Length; i++)
            {
                w.WriteStartObject();
                w.WriteStartObject("SpecialToken");
                w.WriteString("id", bos);
                w.WriteNumber("type_id", i);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteStartObject();
                w.WriteStartObject("Sequence");
                w.WriteString("id", sequences[i]);
                w.WriteNumber("type_id", i);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteStartObject("special_tokens");
        w.WriteStartObject(bos);
        w.WriteString("id", bos);
        w.WriteStartArray("ids");
        w.WriteNumberValue(bosId);
        w.WriteEndArray();
        w.WriteStartArray("tokens");
        w.WriteStringValue(bos);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
