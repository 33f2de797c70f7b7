using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Reins.Rewards.Judges;

/// <summary>
/// Every judge request and its answer in SQLite, keyed by a hash of (endpoint, model, the exact messages and sampling
/// settings): a rerun, or a judgement asked again, never pays twice. Writes are one statement each in WAL mode, so an
/// interrupted run keeps every answer it received.
/// </summary>
public sealed class JudgeCache : IDisposable
{
    private readonly SqliteConnection connection;
    private readonly Lock gate = new();

    /// <summary>Opens (or creates) the cache file.</summary>
    public JudgeCache(string path)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
        connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        Execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, created TEXT NOT NULL);");
    }

    /// <summary>The key of one request: a SHA-256 over its parts, each length-prefixed so no two requests share one.</summary>
    public static string Key(params string[] parts)
    {
        var sb = new StringBuilder();
        foreach (var part in parts) sb.Append(part.Length).Append(':').Append(part).Append('|');
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    /// <summary>The stored answer, or null.</summary>
    public string? Get(string key)
    {
        lock (gate)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT answer FROM answers WHERE key = $key;";
            command.Parameters.AddWithValue("$key", key);
            return command.ExecuteScalar() as string;
        }
    }

    /// <summary>Stores an answer (the first one stored for a key stays).</summary>
    public void Put(string key, string answer)
    {
        lock (gate)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT OR IGNORE INTO answers (key, answer, created) VALUES ($key, $answer, $created);";
            command.Parameters.AddWithValue("$key", key);
            command.Parameters.AddWithValue("$answer", answer);
            command.Parameters.AddWithValue("$created", DateTime.UtcNow.ToString("O"));
            command.ExecuteNonQuery();
        }
    }

    private void Execute(string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <inheritdoc/>
    public void Dispose() => connection.Dispose();
}
