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

    /// <summary>Opens the file and validates its header against the file size.</summary>
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
        JsonObject root;
        try { root = JsonNode.Parse(header)?.AsObject() ?? throw new InvalidDataException($"{path}: empty header."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: header is not valid JSON: {e.Message}"); }
        var meta = new Dictionary<string, string>();
        foreach (var (name, node) in root)
        {
            if (name == "__metadata__")
            {
                foreach (var (k, v) in node!.AsObject()) meta[k] = v?.GetValue<string>() ?? "";
                continue;
            }
            var o = node as JsonObject ?? throw new InvalidDataException($"{path}: entry '{name}' is not an object.");
            string dt = o["dtype"]?.GetValue<string>() ?? throw new InvalidDataException($"{path}: tensor '{name}' has no dtype.");
            var dtype = dt switch
            {
                "F32" => SafeTensorsDType.F32, "F16" => SafeTensorsDType.F16, "BF16" => SafeTensorsDType.BF16,
                "I64" => SafeTensorsDType.I64, "I32" => SafeTensorsDType.I32,
                _ => throw new InvalidDataException($"{path}: tensor '{name}' has dtype {dt}; Reins reads F32, F16, BF16, I64 and I32."),
            };
            var shape = o["shape"]?.AsArray().Select(x => x!.GetValue<int>()).ToArray() ?? throw new InvalidDataException($"{path}: tensor '{name}' has no shape.");
            var offs = o["data_offsets"]?.AsArray().Select(x => x!.GetValue<long>()).ToArray() ?? throw new InvalidDataException($"{path}: tensor '{name}' has no data_offsets.");
            var info = new SafeTensorInfo(name, dtype, shape, offs[0], offs[1]);
            if (offs.Length != 2 || offs[0] < 0 || offs[1] < offs[0] || info.Count * ElementSize(dtype) != offs[1] - offs[0])
                throw new InvalidDataException($"{path}: tensor '{name}' ({dt} {string.Join("x", shape)}) has data_offsets [{string.Join(",", offs)}] that do not match its size.");
            if (dataStart + offs[1] > fileLength)
                throw new InvalidDataException($"{path}: tensor '{name}' ends at byte {dataStart + offs[1]} but the file has {fileLength} (truncated).");
            tensors[name] = info;
        }
        Metadata = meta;
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
        var info = Info(name);
        var raw = ReadBytes(info);
        var result = new float[info.Count];
        switch (info.DType)
        {
            case SafeTensorsDType.F32:
                MemoryMarshal.Cast<byte, float>(raw).CopyTo(result);
                break;
            case SafeTensorsDType.BF16:
                var bf = MemoryMarshal.Cast<byte, ushort>(raw);
                for (int i = 0; i < result.Length; i++) result[i] = BitConverter.Int32BitsToSingle(bf[i] << 16);
                break;
            case SafeTensorsDType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(raw);
                for (int i = 0; i < result.Length; i++) result[i] = (float)h[i];
                break;
            default:
                throw new InvalidDataException($"{Path}: tensor '{name}' is {info.DType}, expected a float type.");
        }
        return result;
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
        int read = 0;
        while (read < buffer.Length)
        {
            int n = RandomAccess.Read(file, buffer.AsSpan(read), dataStart + info.Begin + read);
            if (n == 0) throw new InvalidDataException($"{Path}: tensor '{info.Name}' is truncated.");
            read += n;
        }
        return buffer;
    }
}

/// <summary>Writes .safetensors files atomically (temporary file, then rename).</summary>
public static class SafeTensorsWriter
{
    /// <summary>Writes float tensors as F32 or BF16, plus an optional metadata map (format "pt" is always set, as older transformers require).</summary>
    public static void Write(string path, IEnumerable<(string Name, int[] Shape, float[] Values)> tensors, IReadOnlyDictionary<string, string>? metadata = null, SafeTensorsDType dtype = SafeTensorsDType.F32)
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
                if (dtype == SafeTensorsDType.F32) fs.Write(MemoryMarshal.AsBytes(values.AsSpan()));
                else
                {
                    var bf = new ushort[values.Length];
                    for (int i = 0; i < values.Length; i++) bf[i] = FloatToBf16(values[i]);
                    fs.Write(MemoryMarshal.AsBytes(bf.AsSpan()));
                }
            }
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Round-to-nearest-even float32 → bfloat16, as torch does (NaN stays NaN).</summary>
    public static ushort FloatToBf16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
