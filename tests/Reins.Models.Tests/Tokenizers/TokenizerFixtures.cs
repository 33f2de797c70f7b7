using System.IO.Compression;
using System.Text.Json;
using Reins.Models.Tokenizers;

namespace Reins.Models.Tests.Tokenizers;

/// <summary>One text and what the reference implementation made of it (tools/make_tokenizer_fixtures.mjs).</summary>
public sealed record TokenizerCase(string Text, int[] Ids, int[] IdsSpecial, string Decoded, string DecodedSkipSpecial);

/// <summary>
/// The committed tokenizer fixtures under tests/fixtures/tokenizers: gzipped real tokenizer files are unpacked
/// once per test run into a temporary directory, and each tokenizer is loaded once.
/// </summary>
internal static class TokenizerFixtures
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, Tokenizer> Loaded = [];
    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The directory holding the named tokenizer's files, unpacked.</summary>
    public static string Directory(string name)
    {
        var source = Path.GetDirectoryName(Fixtures.PathOf($"tokenizers/{name}/{FirstFile(name)}"))!;
        var target = Path.Combine(Path.GetTempPath(), $"reins-tokenizer-fixtures-{Environment.ProcessId}", name);
        lock (Gate)
        {
            if (System.IO.Directory.Exists(target)) return target;
            var staging = target + ".partial";
            System.IO.Directory.CreateDirectory(staging);
            foreach (var file in System.IO.Directory.GetFiles(source))
            {
                if (file.EndsWith(".gz", StringComparison.Ordinal))
                {
                    using var input = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
                    using var output = File.Create(Path.Combine(staging, Path.GetFileNameWithoutExtension(file)));
                    input.CopyTo(output);
                }
                else File.Copy(file, Path.Combine(staging, Path.GetFileName(file)));
            }
            System.IO.Directory.Move(staging, target);
            return target;
        }
    }

    public static Tokenizer Load(string name)
    {
        var directory = Directory(name);
        lock (Gate)
        {
            if (!Loaded.TryGetValue(name, out var tokenizer)) Loaded[name] = tokenizer = Tokenizer.Load(directory);
            return tokenizer;
        }
    }

    public static IReadOnlyList<TokenizerCase> Cases(string name) =>
        JsonSerializer.Deserialize<CaseFile>(File.ReadAllBytes(Fixtures.PathOf($"tokenizers/{name}.cases.json")), SnakeCase)!.Cases;

    private static string FirstFile(string name) => name switch
    {
        "gpt2" => "vocab.json.gz",
        "trained" or "bytelevel" => "tokenizer.json",
        _ => "tokenizer.json.gz",
    };

    private sealed record CaseFile(List<TokenizerCase> Cases);
}
