using System.Buffers;
using System.Text;

namespace Reins.Models.Tokenizers;

/// <summary>
/// One line of a UTF-8 text file: its 1-based number and text, or, when its bytes are not UTF-8, no text and the
/// 0-based offset of the first bad byte.
/// </summary>
public readonly record struct Utf8Line(int Number, string? Text, int InvalidByte)
{
    /// <summary>"not valid UTF-8 at byte N", for an error that names the file and line.</summary>
    public string Problem => $"not valid UTF-8 at byte {InvalidByte + 1} (JSONL and text files must be UTF-8)";
}

/// <summary>
/// Reads a text file line by line as strict UTF-8. A reader that replaces bad bytes with U+FFFD (StreamReader,
/// File.ReadLines) would train on text nobody wrote; a line with bad bytes is reported as such, so its reader can
/// refuse it naming file and line, or count it as skipped. Lines end at \n, with a \r before it dropped; a UTF-8 byte
/// order mark at the start is dropped.
/// </summary>
public static class Utf8Lines
{
    /// <summary>The lines of the file at <paramref name="path"/>; a directory is an error naming it.</summary>
    public static IEnumerable<Utf8Line> Read(string path)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: is a directory; a text or JSONL file is needed.");
        return ReadFile(path);
    }

    private static IEnumerable<Utf8Line> ReadFile(string path)
    {
        using var stream = File.OpenRead(path);
        foreach (var line in Read(stream)) yield return line;
    }

    /// <summary>The lines of <paramref name="stream"/>, read to its end.</summary>
    public static IEnumerable<Utf8Line> Read(Stream stream)
    {
        var buffer = new byte[1 << 16];
        int start = 0, end = 0, number = 0;
        bool eof = false;
        while (true)
        {
            int newline = Array.IndexOf(buffer, (byte)'\n', start, end - start);
            if (newline >= 0)
            {
                yield return Decode(buffer.AsSpan(start, newline - start), ++number);
                start = newline + 1;
                continue;
            }
            if (eof)
            {
                if (end > start) yield return Decode(buffer.AsSpan(start, end - start), ++number);
                yield break;
            }
            // Keep the unfinished line at the front, growing the buffer only for a line longer than it.
            Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            (end, start) = (end - start, 0);
            if (end == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            int read = stream.Read(buffer, end, buffer.Length - end);
            if (read == 0) eof = true;
            else end += read;
        }
    }

    private static Utf8Line Decode(Span<byte> bytes, int number)
    {
        if (number == 1 && bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r') bytes = bytes[..^1];
        int invalid = FirstInvalidByte(bytes);
        return new Utf8Line(number, invalid < 0 ? Encoding.UTF8.GetString(bytes) : null, invalid);
    }

    /// <summary>The 0-based offset of the first byte that is not UTF-8, or −1 when all are.</summary>
    public static int FirstInvalidByte(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes)) return -1;
        int valid = 0;
        while (Rune.DecodeFromUtf8(bytes[valid..], out _, out int consumed) == OperationStatus.Done) valid += consumed;
        return valid;
    }
}
