using System.Globalization;

namespace Reins.Cli.Commands;

/// <summary>
/// A JSONL output built record by record, so a long job can stop and resume: lines go to <c>OUTPUT.partial</c>, and
/// after each record's lines <c>OUTPUT.partial.progress</c> says how many records are done and how many bytes they
/// fill (a line half-written when the job stopped is cut off on resume). <see cref="Complete"/> renames the partial
/// file into place.
/// </summary>
internal sealed class PartialJsonl : IDisposable
{
    private readonly string output, partial, progress;
    private readonly FileStream stream;
    private readonly StreamWriter writer;

    private PartialJsonl(string output, bool resume)
    {
        (this.output, partial, progress) = (output, output + ".partial", output + ".partial.progress");
        if (!resume && File.Exists(partial))
            throw new IOException($"{partial} holds an interrupted run's output; rerun with --resume to continue it, or delete it to start over.");
        long length = 0;
        if (resume && File.Exists(progress))
        {
            var fields = File.ReadAllText(progress).Split(' ');
            if (fields.Length != 2 || !int.TryParse(fields[0], CultureInfo.InvariantCulture, out int done) || !long.TryParse(fields[1], CultureInfo.InvariantCulture, out length))
                throw new InvalidDataException($"{progress}: expected \"RECORDS BYTES\".");
            Done = done;
        }
        stream = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.Write);
        if (stream.Length < length) throw new InvalidDataException($"{partial}: shorter ({stream.Length} bytes) than its progress file says ({length}).");
        stream.SetLength(length);
        stream.Position = length;
        writer = new StreamWriter(stream);
    }

    /// <summary>Opens <paramref name="output"/>'s partial file, continuing it when <paramref name="resume"/> is set.</summary>
    public static PartialJsonl Open(string output, bool resume) => new(output, resume);

    /// <summary>Records finished, this run and before.</summary>
    public int Done { get; private set; }

    /// <summary>Writes one record's lines and marks the record done.</summary>
    public void Append(IEnumerable<string> lines)
    {
        foreach (var line in lines) writer.WriteLine(line);
        writer.Flush();
        stream.Flush(flushToDisk: true);
        Done++;
        var temporary = progress + ".tmp";
        File.WriteAllText(temporary, $"{Done} {stream.Length}");
        File.Move(temporary, progress, overwrite: true);
    }

    /// <summary>Moves the finished output into place.</summary>
    public void Complete()
    {
        writer.Dispose();
        File.Move(partial, output, overwrite: true);
        File.Delete(progress);
    }

    public void Dispose() => writer.Dispose();
}
