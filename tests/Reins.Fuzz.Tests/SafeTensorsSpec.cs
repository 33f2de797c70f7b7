using System.Buffers.Binary;
using System.Text.Json;
using Reins.Models.Tokenizers;

namespace Reins.Fuzz.Tests;

/// <summary>
/// The safetensors format as its specification and reference implementation state it, written apart from Reins'
/// reader so each checks the other: an 8-byte little-endian header length (at most 100 MB, within the file), a UTF-8
/// JSON object header (whitespace around it allowed, keys distinct) whose optional "__metadata__" is null or maps strings
/// to strings and whose other entries hold a known "dtype", a "shape" of non-negative integers and two non-negative
/// integer "data_offsets" spanning exactly the tensor's bytes; sorted by offset, the tensors tile the data region from
/// its start to the end of the file.
/// </summary>
internal static class SafeTensorsSpec
{
    private static readonly Dictionary<string, int> Sizes = new()
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1, ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4, ["F64"] = 8, ["I64"] = 8, ["U64"] = 8,
    };

    private static readonly HashSet<string> ReadByReins = ["F32", "F16", "BF16", "I32", "I64"];

    /// <summary>Why the file is not valid safetensors (null when it is), and whether Reins can read every tensor of it.</summary>
    public static (string? Invalid, bool Supported) Check(byte[] file)
    {
        if (file.Length < 8) return ("shorter than the length prefix", false);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > 100_000_000 || n > (ulong)(file.Length - 8)) return ("the header length runs past the file", false);
        // System.Text.Json checks the UTF-8 of a string only when it is read.
        if (!System.Text.Unicode.Utf8.IsValid(file.AsSpan(8, (int)n))) return ("the header is not UTF-8", false);
        JsonDocument document;
        try { document = JsonDocument.Parse(file.AsMemory(8, (int)n), new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return ("the header is not UTF-8 JSON with distinct keys", false); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) return ("the header is not an object", false);
            bool supported = true;
            var spans = new List<(ulong Begin, ulong End, ulong Bytes)>();
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                var v = entry.Value;
                if (entry.Name == "__metadata__")
                {
                    if (v.ValueKind == JsonValueKind.Null) continue;
                    if (v.ValueKind != JsonValueKind.Object || v.EnumerateObject().Any(m => JsonText.StringOrNull(m.Value) is null)) return ("__metadata__ is not a map of strings", false);
                    continue;
                }
                if (v.ValueKind != JsonValueKind.Object) return ($"entry {entry.Name} is not an object", false);
                if (!v.TryGetProperty("dtype", out var dtype) || JsonText.StringOrNull(dtype) is not { } dtypeName || !Sizes.TryGetValue(dtypeName, out int size))
                    return ($"entry {entry.Name} has no known dtype", false);
                if (!v.TryGetProperty("shape", out var shape) || Naturals(shape) is not { } dims) return ($"entry {entry.Name} has no shape of natural numbers", false);
                if (!v.TryGetProperty("data_offsets", out var offsets) || Naturals(offsets) is not { Length: 2 } range) return ($"entry {entry.Name} has no two data offsets", false);
                ulong count = (ulong)size;
                foreach (ulong d in dims)
                {
                    if (d != 0 && count > ulong.MaxValue / d) return ($"entry {entry.Name} overflows", false);
                    count *= d;
                }
                if (range[1] < range[0] || range[1] - range[0] != count) return ($"entry {entry.Name}'s offsets do not span its {count} bytes", false);
                supported &= ReadByReins.Contains(dtypeName) && dims.All(d => d <= int.MaxValue);
                spans.Add((range[0], range[1], count));
            }
            ulong end = 0;
            foreach (var (begin, stop, _) in spans.OrderBy(s => s.Begin).ThenBy(s => s.End))
            {
                if (begin != end) return ("the tensors overlap or leave a gap", false);
                end = stop;
            }
            if (end != (ulong)file.Length - 8 - n) return ("the tensors do not end where the file does", false);
            return (null, supported);
        }
    }

    private static ulong[]? Naturals(JsonElement array)
    {
        if (array.ValueKind != JsonValueKind.Array) return null;
        var values = new List<ulong>();
        foreach (var x in array.EnumerateArray())
        {
            // serde_json reads "-0" as the integer 0, as it reads any non-negative integer; a fraction or exponent is a float.
            if (x.ValueKind != JsonValueKind.Number) return null;
            if (x.TryGetUInt64(out ulong value)) values.Add(value);
            else if (x.TryGetInt64(out long signed) && signed >= 0) values.Add((ulong)signed);
            else return null;
        }
        return [.. values];
    }
}
