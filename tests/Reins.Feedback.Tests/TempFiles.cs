namespace Reins.Feedback.Tests;

/// <summary>A scratch directory for the JSONL files a test writes, removed afterwards.</summary>
internal sealed class TempFiles : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "reins-feedback-" + Guid.NewGuid().ToString("N"));

    public TempFiles() => Directory.CreateDirectory(directory);

    /// <summary>Writes <paramref name="lines"/> (one JSONL line each) to <paramref name="name"/> and returns its path.</summary>
    public string Write(string name, params string[] lines)
    {
        string path = Path.Combine(directory, name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    public string PathOf(string name) => Path.Combine(directory, name);

    public void Dispose() => Directory.Delete(directory, recursive: true);
}

/// <summary>Base of test classes that write files: each test gets its own scratch directory.</summary>
public abstract class FileWritingTests : IDisposable
{
    private protected TempFiles Files { get; } = new();

    public void Dispose()
    {
        Files.Dispose();
        GC.SuppressFinalize(this);
    }
}
