using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reins.Models.Checkpoints;

/// <summary>Element types of the safetensors format that Reins reads.</summary>
public enum SafeTensorsDType
{
    /// <summary>IEEE float32.</summary>
    F32,
    /// <summary>IEEE float16.</summary>
    F16,
    /// <summary>bfloat16 (the top half of a float32).</summary>
    BF16,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
}

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafeTensorInfo(string Name, SafeTensorsDType DType, int[] Shape, long Begin, long End)
{
    /// <summary>Number of elements.</summary>
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Reads a .safetensors file: an 8-byte little-endian header length, a JSON header mapping names to dtype,
/// shape and byte range, then the raw data. Float types convert to float32 on read.
/// </summary>
public sealed class SafeTensorsReader
{
    private readonly Dictionary<string, SafeTensorInfo> tensors = new(StringComparer.Ordinal);
    private readonly long dataStart;

    /// <summary>The file path, used in every error message.</summary>
    public string Path { get; }
    /// <summary>The __metadata__ string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Entries in header order.</summary>
    public IReadOnlyCollection<SafeTensorInfo> Tensors => tensors.Values;

    /// <summary>
    /// Opens the file and validates it as the reference implementation does: the header is UTF-8 JSON, an object whose
    /// "__metadata__" (optional, or null) maps strings to strings and whose every other entry has a known dtype, a shape of
    /// non-negative integers and two integer data_offsets of exactly its size; sorted by offset, the tensors lie back to
    /// back from the start of the data region and end exactly at the end of the file.
    /// </summary>
    public SafeTensorsReader(string path)
    {
        Path = path;
        using var file = File.OpenHandle(path);
        long fileLength = RandomAccess.GetLength(file);
        if (fileLength < 8) throw new InvalidDataException($"{path}: {fileLength} bytes is too short for a safetensors file (truncated?).");
        Span<byte> lenBytes = stackalloc byte[8];
        RandomAccess.Read(file, lenBytes, 0);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLength > (ulong)(fileLength - 8) || headerLength > 100_000_000)
            throw new InvalidDataException($"{path}: header claims {headerLength} bytes but the file has {fileLength} (truncated or not safetensors).");
        var header = new byte[headerLength];
        RandomAccess.Read(file, header, 8);
        dataStart = 8 + (long)headerLength;
        var root = Tokenizers.JsonText.Parse(header, $"{path}: the header") as JsonObject ?? throw new InvalidDataException($"{path}: the header is not a JSON object.");
        var meta = new Dictionary<string, string>();
        foreach (var (name, node) in root)
        {
            if (name == "__metadata__")
            {
                // The reference reads it as an optional map: null is no metadata.
                if (node is null) continue;
                var map = node as JsonObject ?? throw new InvalidDataException($"{path}: __metadata__ is not an object.");
                foreach (var (k, v) in map)
                    meta[k] = v is JsonValue value && value.TryGetValue<string>(out var text) ? text : throw new InvalidDataException($"{path}: __metadata__ '{k}' is not a string.");
                continue;
            }
            var o = node as JsonObject ?? throw new InvalidDataException($"{path}: entry '{name}' is not an object.");
            string dt = o["dtype"] is JsonValue d && d.TryGetValue<string>(out var dtext) ? dtext : throw new InvalidDataException($"{path}: tensor '{name}' has no dtype string.");
            var dtype = dt switch
            {
                "F32" => SafeTensorsDType.F32, "F16" => SafeTensorsDType.F16, "BF16" => SafeTensorsDType.BF16,
                "I64" => SafeTensorsDType.I64, "I32" => SafeTensorsDType.I32,
                _ => throw new InvalidDataException($"{path}: tensor '{name}' has dtype {dt}; Reins reads F32, F16, BF16, I64 and I32."),
            };
            var dims = Integers(o["shape"], $"{path}: tensor '{name}': shape");
            if (dims.Any(x => x > int.MaxValue)) throw new InvalidDataException($"{path}: tensor '{name}' has a dimension above {int.MaxValue}.");
            var offs = Integers(o["data_offsets"], $"{path}: tensor '{name}': data_offsets");
            int[] shape = [.. dims.Select(x => (int)x)];
            long count = 1;
            foreach (long x in dims)
                if (x != 0 && count > long.MaxValue / x / 8) throw new InvalidDataException($"{path}: tensor '{name}' has more elements than a file can hold.");
                else count *= x;
            if (offs.Length != 2 || offs[1] < offs[0] || count * ElementSize(dtype) != offs[1] - offs[0])
                throw new InvalidDataException($"{path}: tensor '{name}' ({dt} {string.Join("x", shape)}) has data_offsets [{string.Join(",", offs)}] that do not match its size.");
            tensors[name] = new SafeTensorInfo(name, dtype, shape, offs[0], offs[1]);
        }
        // Back to back from the data region's start to the file's end: no gap, overlap or trailing bytes, so a header
        // length off by a few bytes (data read shifted) is caught, not loaded as garbage.
        long end = 0;
        foreach (var info in tensors.Values.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (info.Begin != end)
                throw new InvalidDataException($"{path}: tensor '{info.Name}' starts at data byte {info.Begin}, expected {end} ({(info.Begin < end ? "overlapping the tensor before it" : "a gap before it")}).");
            end = info.End;
        }
        if (dataStart + end != fileLength)
            throw new InvalidDataException($"{path}: the tensors cover {end} data bytes but the file holds {fileLength - dataStart} after its header ({(dataStart + end > fileLength ? "truncated" : "the header length or the offsets are wrong")}).");
        Metadata = meta;
    }

    // A JSON array of non-negative integers, or an error naming what it should be.
    private static long[] Integers(JsonNode? node, string what)
    {
        if (node is not JsonArray array) throw new InvalidDataException($"{what} is not an array.");
        var values = new long[array.Count];
        for (int i = 0; i < values.Length; i++)
            if (!(array[i] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out values[i]) && values[i] >= 0))
                throw new InvalidDataException($"{what}: element {i} ({array[i]?.ToJsonString() ?? "null"}) is not a non-negative integer.");
        return values;
    }

    /// <summary>Bytes per element.</summary>
    public static int ElementSize(SafeTensorsDType t) => t switch
    {
        SafeTensorsDType.F32 or SafeTensorsDType.I32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        _ => 8,
    };

    /// <summary>Whether the file holds a tensor of that name.</summary>
    public bool Contains(string name) => tensors.ContainsKey(name);

    /// <summary>The header entry of a tensor.</summary>
    public SafeTensorInfo Info(string name) => tensors.TryGetValue(name, out var i) ? i
        : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'.");

    /// <summary>Reads a tensor as float32 (converting F16/BF16; integer types are refused).</summary>
    public float[] ReadFloats(string name)
    {
        var result = new float[Info(name).Count];
        ReadFloats(name, result);
        return result;
    }

    /// <summary>
    /// Reads a tensor as float32 into <paramref name="destination"/> (its element count long): F32 straight from the file
    /// into it, F16/BF16 through a buffer of a few MB, so a large checkpoint loads without a second copy of any tensor.
    /// </summary>
    public void ReadFloats(string name, Span<float> destination)
    {
        var info = Checked(name, destination.Length);
        using var file = File.OpenHandle(Path);
        var buffer = info.DType == SafeTensorsDType.F32 ? null : new byte[Piece * ElementSize(info.DType)];
        // In pieces: a span holds at most 2³¹ bytes, and an embedding of 128,256 × 4,096 floats is more.
        for (int start = 0; start < destination.Length; start += Piece)
            ReadPiece(file, info, start, destination.Slice(start, Math.Min(Piece, destination.Length - start)), buffer);
    }

    /// <summary>
    /// Reads a tensor as bfloat16 into <paramref name="destination"/> (its element count long): BF16 straight from the file,
    /// F32 and F16 rounded to nearest even a few MB at a time — a frozen weight held as bfloat16 without its float32 values
    /// ever in memory.
    /// </summary>
    public void ReadBf16(string name, Span<ushort> destination)
    {
        var info = Checked(name, destination.Length);
        using var file = File.OpenHandle(Path);
        var (floats, buffer) = info.DType == SafeTensorsDType.BF16 ? (null, null) : (new float[Piece], info.DType == SafeTensorsDType.F32 ? null : new byte[Piece * 2]);
        for (int start = 0; start < destination.Length; start += Piece)
        {
            var part = destination.Slice(start, Math.Min(Piece, destination.Length - start));
            if (floats is null) { ReadExactly(file, MemoryMarshal.AsBytes(part), Offset(info, start), info.Name); continue; }
            var wide = floats.AsSpan(0, part.Length);
            ReadPiece(file, info, start, wide, buffer);
            Reins.Tensors.Kernels.Bf16.FromFloat(wide, part);
        }
    }

    internal const int Piece = 1 << 22;

    private SafeTensorInfo Checked(string name, int length)
    {
        var info = Info(name);
        if (length != info.Count)
            throw new ArgumentException($"{Path}: tensor '{name}' holds {info.Count} values, the destination {length}.");
        if (info.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.BF16 or SafeTensorsDType.F16))
            throw new InvalidDataException($"{Path}: tensor '{name}' is {info.DType}, expected a float type.");
        return info;
    }

    // Where element start of the tensor sits in the file.
    private long Offset(SafeTensorInfo info, int start) => dataStart + info.Begin + (long)start * ElementSize(info.DType);

    // Elements [start, start + part.Length) as float32: F32 read into part, 16-bit types through buffer and widened.
    private void ReadPiece(Microsoft.Win32.SafeHandles.SafeFileHandle file, SafeTensorInfo info, int start, Span<float> part, byte[]? buffer)
    {
        long at = Offset(info, start);
        if (buffer is null) { ReadExactly(file, MemoryMarshal.AsBytes(part), at, info.Name); return; }
        var bytes = buffer.AsSpan(0, part.Length * ElementSize(info.DType));
        ReadExactly(file, bytes, at, info.Name);
        if (info.DType == SafeTensorsDType.BF16) Reins.Tensors.Kernels.Bf16.ToFloat(MemoryMarshal.Cast<byte, ushort>(bytes), part);
        else
        {
            var h = MemoryMarshal.Cast<byte, Half>(bytes);
            for (int i = 0; i < part.Length; i++) part[i] = (float)h[i];
        }
    }

    /// <summary>Reads an integer tensor (I64 or I32) as 64-bit values.</summary>
    public long[] ReadInt64(string name)
    {
        var info = Info(name);
        var raw = ReadBytes(info);
        return info.DType switch
        {
            SafeTensorsDType.I64 => MemoryMarshal.Cast<byte, long>(raw).ToArray(),
            SafeTensorsDType.I32 => MemoryMarshal.Cast<byte, int>(raw).ToArray().Select(x => (long)x).ToArray(),
            _ => throw new InvalidDataException($"{Path}: tensor '{name}' is {info.DType}, expected I64 or I32."),
        };
    }

    private byte[] ReadBytes(SafeTensorInfo info)
    {
        var buffer = new byte[info.End - info.Begin];
        using var file = File.OpenHandle(Path);
        ReadExactly(file, buffer, dataStart + info.Begin, info.Name);
        return buffer;
    }

    private void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle file, Span<byte> buffer, long offset, string tensor)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = RandomAccess.Read(file, buffer[read..], offset + read);
            if (n == 0) throw new InvalidDataException($"{Path}: tensor '{tensor}' is truncated.");
            read += n;
        }
    }
}

/// <summary>Writes .safetensors files atomically (temporary file, then rename).</summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Writes float tensors as F32 or BF16, plus an optional metadata map (format "pt" is always set, as older transformers
    /// require). The values are read where they live (a tensor's <see cref="Reins.Tensors.Tensor.Memory"/>), so saving a
    /// model needs no second copy of its weights.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, int[] Shape, ReadOnlyMemory<float> Values)> tensors, IReadOnlyDictionary<string, string>? metadata = null, SafeTensorsDType dtype = SafeTensorsDType.F32)
    {
        if (dtype is not (SafeTensorsDType.F32 or SafeTensorsDType.BF16))
            throw new ArgumentException($"safetensors: writing {dtype} is not supported; use F32 or BF16.");
        var list = tensors.ToList();
        var header = new JsonObject();
        var meta = new JsonObject { ["format"] = "pt" };
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        int size = SafeTensorsReader.ElementSize(dtype);
        foreach (var (name, shape, values) in list)
        {
            long bytes = (long)values.Length * size;
            if (shape.Aggregate(1L, (a, b) => a * b) != values.Length)
                throw new ArgumentException($"safetensors: tensor '{name}' has {values.Length} values for shape {string.Join("x", shape)}.");
            header[name] = new JsonObject
            {
                ["dtype"] = dtype.ToString(),
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (headerBytes.Length + 7) / 8 * 8;
        string tmp = path + ".tmp-" + Environment.ProcessId;
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            fs.Write(len);
            fs.Write(headerBytes);
            for (int i = headerBytes.Length; i < padded; i++) fs.WriteByte((byte)' ');
            foreach (var (_, _, values) in list)
            {
                if (dtype == SafeTensorsDType.F32) fs.Write(MemoryMarshal.AsBytes(values.Span));
                else
                {
                    var bf = new ushort[values.Length];
                    Reins.Tensors.Kernels.Bf16.FromFloat(values.Span, bf);
                    fs.Write(MemoryMarshal.AsBytes(bf.AsSpan()));
                }
            }
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
