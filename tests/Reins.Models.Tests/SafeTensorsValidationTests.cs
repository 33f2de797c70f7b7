using System.Buffers.Binary;
using System.Text;
using Reins.Models.Checkpoints;

namespace Reins.Models.Tests;

/// <summary>safetensors files that are structurally wrong are refused with the file named, never loaded as garbage.</summary>
public sealed class SafeTensorsValidationTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("reins-st-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // A file with the given header text (padded with spaces to 8 bytes, as writers do unless told otherwise) and data.
    private string File(string header, int dataBytes, int? declaredLength = null, int padding = -1)
    {
        var bytes = Encoding.UTF8.GetBytes(header);
        int padded = padding >= 0 ? bytes.Length + padding : (bytes.Length + 7) / 8 * 8;
        var content = new byte[8 + padded + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(content, (ulong)(declaredLength ?? padded));
        bytes.CopyTo(content, 8);
        content.AsSpan(8 + bytes.Length, padded - bytes.Length).Fill((byte)' ');
        var path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".safetensors");
        System.IO.File.WriteAllBytes(path, content);
        return path;
    }

    private static void Refused(string path, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => new SafeTensorsReader(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AWellFormedFileLoads()
    {
        var reader = new SafeTensorsReader(File("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12));
        Assert.Equal(2, reader.Tensors.Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    public void AHeaderLengthShortByAFewBytesIsRefused(int shortBy)
    {
        // The JSON still parses (the missing bytes are padding), but every tensor would be read shifted.
        const string header = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        int padded = (Encoding.UTF8.GetByteCount(header) + 7) / 8 * 8 + 8;
        Refused(File(header, 8, declaredLength: padded - shortBy, padding: padded - Encoding.UTF8.GetByteCount(header)), "after its header");
    }

    [Fact]
    public void OverlapsGapsAndTrailingBytesAreRefused()
    {
        Refused(File("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12), "overlapping");
        Refused(File("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12), "a gap");
        Refused(File("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8), "after its header");
        Refused(File("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""", 8), "truncated");
        Refused(File("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", 4), "do not match its size");
    }

    [Theory]
    [InlineData("""{"a":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}""", "dtype")]
    [InlineData("""{"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}""", "shape is not an array")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", "not a non-negative integer")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "not a non-negative integer")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.0,4.5]}}""", "not a non-negative integer")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}""", "do not match")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}""", "not a non-negative integer")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":[1]}""", "__metadata__ is not an object")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":1}}""", "__metadata__ 'k' is not a string")]
    [InlineData("""[{"a":1}]""", "not a JSON object")]
    [InlineData("""{"a":[1,2]}""", "is not an object")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "Duplicate property 'a'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]""", "invalid JSON")]
    public void HeadersOfTheWrongShapeAreRefusedWithTheirReason(string header, string expected) => Refused(File(header, 4), expected);

    [Fact]
    public void AHeaderThatIsNotUtf8IsRefused()
    {
        var path = File("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4);
        var bytes = System.IO.File.ReadAllBytes(path);
        bytes[10] = 0xFF;
        System.IO.File.WriteAllBytes(path, bytes);
        Refused(path, "not valid");
    }
}
