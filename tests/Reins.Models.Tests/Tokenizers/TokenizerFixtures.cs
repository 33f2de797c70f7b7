using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
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
        // Keyed by the fixture's size so that test runs share one unpacked copy until the fixture changes.
        long size = System.IO.Directory.GetFiles(source).Sum(f => new FileInfo(f).Length);
        var target = Path.Combine(Path.GetTempPath(), "reins-tokenizer-fixtures", $"{name}-{size}");
        lock (Gate)
        {
            if (System.IO.Directory.Exists(target)) return target;
            var staging = $"{target}.{Environment.ProcessId}.partial";
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
            // Another test process may have finished the same copy first; either copy will do.
            try { System.IO.Directory.Move(staging, target); }
            catch (IOException) when (System.IO.Directory.Exists(target)) { System.IO.Directory.Delete(staging, recursive: true); }
            return target;
        }
    }

    /// <summary>
    /// The named tokenizer; for a variant (a cases file with "base" and "patch"), the base tokenizer.json with the
    /// patch's top-level fields put in place, as the fixture script built it.
    /// </summary>
    public static Tokenizer Load(string name)
    {
        var header = JsonNode.Parse(File.ReadAllBytes(Fixtures.PathOf($"tokenizers/{name}.cases.json")))!.AsObject();
        string? baseName = (string?)header["base"];
        var directory = Directory(baseName ?? name);
        lock (Gate)
        {
            if (Loaded.TryGetValue(name, out var tokenizer)) return tokenizer;
            if (baseName is null) tokenizer = Tokenizer.Load(directory);
            else
            {
                var json = JsonNode.Parse(File.ReadAllBytes(Path.Combine(directory, "tokenizer.json")))!.AsObject();
                foreach (var (field, value) in header["patch"]!.AsObject()) json[field] = value?.DeepClone();
                tokenizer = Tokenizer.FromJson(JsonSerializer.SerializeToUtf8Bytes(json), name);
            }
            return Loaded[name] = tokenizer;
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
