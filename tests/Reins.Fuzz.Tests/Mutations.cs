using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Tensors;

namespace Reins.Fuzz.Tests;

/// <summary>
/// Ways to break a valid file: blind byte edits (bit flips, interesting bytes, deletions, insertions, duplicated ranges,
/// truncation, splices with another seed) and edits that keep JSON parseable while changing its meaning (a value of
/// another type or range, a key removed or repeated, a lone surrogate escape), which reach the checks after parsing.
/// </summary>
internal static class Mutations
{
    // Bytes and texts that parsers treat specially: quotes, escapes, brackets, NUL, bytes that are never UTF-8, the
    // UTF-8 form of a surrogate, and JSON escapes of half a surrogate pair.
    private static readonly byte[][] Interesting =
    [
        "\""u8.ToArray(), "\\"u8.ToArray(), "{"u8.ToArray(), "}"u8.ToArray(), "["u8.ToArray(), "]"u8.ToArray(), ","u8.ToArray(), ":"u8.ToArray(),
        [0], [0xFF], [0xC3], [0xED, 0xA0, 0x80], "\\ud800"u8.ToArray(), "\\udc00\\ud800"u8.ToArray(), "\n"u8.ToArray(), "\r"u8.ToArray(),
        "-1"u8.ToArray(), "1e400"u8.ToArray(), "99999999999999999999"u8.ToArray(), "NaN"u8.ToArray(),
    ];

    // Replacement values for a JSON value, as JSON text.
    private static readonly string[] Values =
    [
        "0", "-1", "1", "1.5", "300.5", "-0", "1e400", "-1e400", "1e-400", "2147483648", "9223372036854775808", "99999", "65536",
        "\"\"", "\"x\"", "\"\\ud800\"", "\"a\\udc00b\"", "\"swish9\"", "\"F64\"", "\"BF16\"", "\"U8\"", "\"llama\"", "\"gpt2\"",
        "null", "true", "false", "[]", "[0]", "[-1]", "[1,2,3]", "[0.5]", "{}", "{\"a\":1}", "\"NaN\"", "\"Infinity\"",
    ];

    /// <summary>One to three blind byte edits.</summary>
    public static byte[] Bytes(byte[] input, Rng rng, IReadOnlyList<byte[]> seeds)
    {
        var bytes = new List<byte>(input);
        int edits = 1 + rng.NextInt(3);
        for (int e = 0; e < edits; e++)
        {
            int at = bytes.Count == 0 ? 0 : rng.NextInt(bytes.Count);
            switch (rng.NextInt(8))
            {
                case 0 when bytes.Count > 0: bytes[at] ^= (byte)(1 << rng.NextInt(8)); break;
                case 1 when bytes.Count > 0: bytes[at] = (byte)rng.NextInt(256); break;
                case 2: bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + rng.NextInt(16))); break;
                case 3: bytes.InsertRange(at, Interesting[rng.NextInt(Interesting.Length)]); break;
                case 4 when bytes.Count > 0:
                    int length = Math.Min(bytes.Count - at, 1 + rng.NextInt(32));
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                case 5: bytes.RemoveRange(at, bytes.Count - at); break;
                case 6:
                    var other = seeds[rng.NextInt(seeds.Count)];
                    int from = other.Length == 0 ? 0 : rng.NextInt(other.Length);
                    bytes.RemoveRange(at, bytes.Count - at);
                    bytes.AddRange(other.AsSpan(from).ToArray());
                    break;
                default: bytes.Insert(at, (byte)rng.NextInt(256)); break;
            }
        }
        return [.. bytes];
    }

    /// <summary>One to three edits of a JSON document's meaning, still parseable JSON text; blind edits when it does not parse.</summary>
    public static byte[] Json(byte[] input, Rng rng, IReadOnlyList<byte[]> seeds)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(input); }
        catch (JsonException) { return Bytes(input, rng, seeds); }
        if (root is null) return Bytes(input, rng, seeds);
        int edits = 1 + rng.NextInt(3);
        // Placeholder strings stand in for JSON text that JsonNode cannot hold (a lone surrogate, 1e400, a repeated
        // key); the serialised text then has each quoted placeholder replaced.
        var raw = new Dictionary<string, string>();
        string Placeholder(string replacement)
        {
            string placeholder = $"__fuzz_{raw.Count}__";
            raw["\"" + placeholder + "\""] = replacement;
            return placeholder;
        }
        for (int e = 0; e < edits; e++)
        {
            var nodes = Walk(root).ToList();
            var node = nodes[rng.NextInt(nodes.Count)];
            switch (rng.NextInt(4))
            {
                case 1 when node.Parent is JsonObject parent:
                    parent.Remove(node.GetPropertyName());
                    break;
                case 2 when node is JsonObject { Count: > 0 } o:
                    string key = o.ElementAt(rng.NextInt(o.Count)).Key;
                    o[Placeholder(JsonSerializer.Serialize(key))] = o[key]?.DeepClone();
                    break;
                case 3 when node is JsonArray { Count: > 0 } a:
                    if (rng.NextInt(2) == 0) a.RemoveAt(rng.NextInt(a.Count));
                    else a.Add(a[rng.NextInt(a.Count)]?.DeepClone());
                    break;
                default:
                    if (node.Parent is not null) node.ReplaceWith(JsonValue.Create(Placeholder(Values[rng.NextInt(Values.Length)])));
                    break;
            }
        }
        var text = root.ToJsonString();
        foreach (var (placeholder, value) in raw) text = text.Replace(placeholder, value);
        return Encoding.UTF8.GetBytes(text);
    }

    /// <summary>JSON edits or blind edits, half and half.</summary>
    public static byte[] JsonOrBytes(byte[] input, Rng rng, IReadOnlyList<byte[]> seeds) =>
        rng.NextInt(2) == 0 ? Json(input, rng, seeds) : Bytes(input, rng, seeds);

    /// <summary>A JSONL file: one line edited (as JSON or blindly), or lines removed, repeated or added.</summary>
    public static byte[] Lines(byte[] input, Rng rng, IReadOnlyList<byte[]> seeds)
    {
        var lines = SplitLines(input);
        int at = rng.NextInt(lines.Count);
        switch (rng.NextInt(6))
        {
            case 0 or 1: lines[at] = Json(lines[at], rng, seeds); break;
            case 2: lines[at] = Bytes(lines[at], rng, seeds); break;
            case 3 when lines.Count > 1: lines.RemoveAt(at); break;
            case 4: lines.Insert(at, lines[rng.NextInt(lines.Count)]); break;
            default: lines.Insert(at, Interesting[rng.NextInt(Interesting.Length)]); break;
        }
        return [.. lines.SelectMany(l => l.Append((byte)'\n'))];
    }

    /// <summary>The lines of a file's bytes, split at \n (a final line without one included).</summary>
    public static List<byte[]> SplitLines(byte[] input)
    {
        var lines = new List<byte[]>();
        int start = 0;
        for (int i = 0; i <= input.Length; i++)
            if (i == input.Length || input[i] == '\n')
            {
                if (i > start || i < input.Length) lines.Add(input[start..i]);
                start = i + 1;
            }
        return lines.Count == 0 ? [[]] : lines;
    }

    private static IEnumerable<JsonNode> Walk(JsonNode node)
    {
        yield return node;
        IEnumerable<JsonNode?> children = node switch
        {
            JsonObject o => o.Select(kv => kv.Value),
            JsonArray a => a,
            _ => [],
        };
        foreach (var child in children.OfType<JsonNode>())
            foreach (var n in Walk(child)) yield return n;
    }
}
