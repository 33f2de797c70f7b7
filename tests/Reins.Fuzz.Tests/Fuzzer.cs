using System.Diagnostics;
using Reins.Tensors;

namespace Reins.Fuzz.Tests;

/// <summary>
/// A loader under fuzzing: valid seed files, a mutator that breaks them, where a case's bytes go (<see cref="Place"/>
/// returns the path to load), the load itself, which exceptions are the loader's own clear errors, an oracle that says
/// what is wrong with a load that succeeded (accepted a structurally invalid file, or returned something unusable), and
/// optionally one that says what is wrong with a refusal (the file was valid).
/// </summary>
internal sealed record FuzzTarget(
    string Name,
    IReadOnlyList<byte[]> Seeds,
    Func<byte[], Rng, IReadOnlyList<byte[]>, byte[]> Mutate,
    Func<string, byte[], string> Place,
    Func<string, object> Load,
    Func<Exception, bool> OwnError,
    Func<byte[], object, string?> Oracle,
    Func<byte[], Exception, string?>? RefusalOracle = null);

/// <summary>An unexpected outcome, with the file holding the case's bytes.</summary>
internal sealed record FuzzFailure(int Case, string Kind, string Detail, string File);

/// <summary>
/// Runs a target on seeded mutations of its seeds, each case with a time limit. A case fails on an exception that is not
/// the loader's own error, on a success the oracle rejects, or on a hang; its bytes are written out (REINS_FUZZ_OUT, else
/// a temporary directory) so the case can be replayed. Seeded: the same seed gives the same cases.
/// </summary>
internal static class Fuzzer
{
    /// <summary>Cases per target in CI times this (REINS_FUZZ_SCALE, default 1): more on demand.</summary>
    public static double Scale => double.TryParse(Environment.GetEnvironmentVariable("REINS_FUZZ_SCALE"), System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 1;

    /// <summary>The seed of every target's stream (REINS_FUZZ_SEED, default 20261206).</summary>
    public static ulong Seed => ulong.TryParse(Environment.GetEnvironmentVariable("REINS_FUZZ_SEED"), out var s) ? s : 20261206;

    /// <summary>Runs <paramref name="cases"/> (× <see cref="Scale"/>) cases; returns how many ran, loaded and were refused, and the failures.</summary>
    public static (int Cases, int Loaded, int Refused, List<FuzzFailure> Failures) Run(FuzzTarget target, int cases, TimeSpan perCase)
    {
        cases = Math.Max(1, (int)(cases * Scale));
        var work = Directory.CreateTempSubdirectory($"reins-fuzz-{target.Name}-").FullName;
        var outDir = Environment.GetEnvironmentVariable("REINS_FUZZ_OUT") ?? Path.Combine(Path.GetTempPath(), "reins-fuzz-failures");
        var failures = new List<FuzzFailure>();
        var rng = new Rng(Seed ^ (ulong)StableHash(target.Name));
        int current = -1, loaded = 0, refused = 0;
        long caseStart = Stopwatch.GetTimestamp();
        byte[] currentBytes = [];
        // The loop runs on its own thread so a hanging load is seen (and reported) rather than waited on for ever.
        var loop = new Thread(() =>
        {
            for (int i = 0; i < cases; i++)
            {
                var input = target.Mutate(target.Seeds[rng.NextInt(target.Seeds.Count)], rng, target.Seeds);
                Volatile.Write(ref currentBytes, input);
                Volatile.Write(ref caseStart, Stopwatch.GetTimestamp());
                Volatile.Write(ref current, i);
                var caseDir = Path.Combine(work, "case");
                if (Directory.Exists(caseDir)) Directory.Delete(caseDir, recursive: true);
                Directory.CreateDirectory(caseDir);
                string? kind = null, detail = null;
                object? result = null;
                Exception? error = null;
                try
                {
                    result = target.Load(target.Place(caseDir, input));
                    loaded++;
                }
                catch (Exception e)
                {
                    error = e;
                    refused++;
                }
                try
                {
                    if (error is null) { if (target.Oracle(input, result!) is { } problem) (kind, detail) = ("accepted", problem); }
                    else if (!target.OwnError(error)) (kind, detail) = ("crashed", error.ToString());
                    else if (target.RefusalOracle?.Invoke(input, error) is { } problem) (kind, detail) = ("refused", problem);
                }
                // An oracle that fails is reported as such, rather than ending the test process.
                catch (Exception e) { (kind, detail) = ("oracle failed", e.ToString()); }
                if (kind is not null) lock (failures) failures.Add(new FuzzFailure(i, kind, detail!, Save(outDir, target.Name, i, input)));
            }
            Volatile.Write(ref current, cases);
        }) { IsBackground = true, Name = "fuzz-" + target.Name };
        loop.Start();
        while (!loop.Join(50))
        {
            if (Stopwatch.GetElapsedTime(Volatile.Read(ref caseStart)) > perCase && Volatile.Read(ref current) < cases)
            {
                int stuck = Volatile.Read(ref current);
                lock (failures) failures.Add(new FuzzFailure(stuck, "hung", $"no result after {perCase.TotalSeconds} s", Save(outDir, target.Name, stuck, Volatile.Read(ref currentBytes))));
                return (stuck + 1, loaded, refused, failures);
            }
        }
        Directory.Delete(work, recursive: true);
        return (cases, loaded, refused, failures);
    }

    private static string Save(string outDir, string target, int index, byte[] bytes)
    {
        Directory.CreateDirectory(outDir);
        var path = Path.Combine(outDir, $"{target}-seed{Seed}-case{index}.bin");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // string.GetHashCode is randomised per process; the stream of a target must not be.
    private static uint StableHash(string text)
    {
        uint h = 2166136261;
        foreach (char c in text) h = (h ^ c) * 16777619;
        return h;
    }
}
