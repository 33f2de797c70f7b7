using System.Text.Json;

namespace Reins.Feedback.Sampling;

/// <summary>
/// Where a <see cref="DataSampler"/> stands: saved with a checkpoint so a resumed run continues at the same data
/// position with the same order. The seed and dataset size travel with it, because either changing changes the order.
/// </summary>
/// <param name="Seed">The sampler's seed.</param>
/// <param name="Count">Dataset size.</param>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Position">Items of this epoch's order already handed out.</param>
public sealed record DataCursor(ulong Seed, int Count, int Epoch, int Position)
{
    /// <summary>File name inside a checkpoint directory.</summary>
    public const string FileName = "data_cursor.json";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <summary>Writes the cursor as JSON, via a temporary file so a crash cannot leave half a cursor.</summary>
    public void Save(string path)
    {
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Json));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a cursor written by <see cref="Save"/>.</summary>
    public static DataCursor Load(string path) =>
        JsonSerializer.Deserialize<DataCursor>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: not a data cursor.");
}
