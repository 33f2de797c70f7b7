using Xunit.Abstractions;

namespace Reins.Fuzz.Tests;

/// <summary>
/// The loaders under seeded mutation (<see cref="Targets"/>): in CI 12,000 cases in all, bounded in time; more on
/// demand with REINS_FUZZ_SCALE (a multiplier) and another stream with REINS_FUZZ_SEED. A failure names the case file.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    public static TheoryData<string> Names => [.. Targets.All().Select(t => t.Target().Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void LoadersEitherLoadAValidFileOrRefuseItWithTheirOwnError(string name)
    {
        var (target, cases) = Targets.All().Select(t => (Target: t.Target(), t.Cases)).Single(t => t.Target.Name == name);
        var (ran, loaded, refused, failures) = Fuzzer.Run(target, cases, perCase: TimeSpan.FromSeconds(10));
        output.WriteLine($"{name}: {ran} cases, {loaded} loaded, {refused} refused, {failures.Count} failed (seed {Fuzzer.Seed})");
        Assert.True(failures.Count == 0, failures.Count == 0 ? "" :
            $"{name}: {failures.Count} of {ran} cases (seed {Fuzzer.Seed}) failed; first ones:\n" +
            string.Join("\n", failures.Take(5).Select(f => $"case {f.Case} {f.Kind}: {f.Detail.Split('\n')[0]} ({f.File})")) +
            "\nin full:\n" + string.Join("\n\n", failures.DistinctBy(f => f.Detail.Split('\n')[0]).Take(4).Select(f => $"case {f.Case}: {f.Detail}")));
        // A mutator that always breaks its files, or never does, would test one side only.
        Assert.True(loaded > 0 && refused > 0, $"{name}: {loaded} loaded, {refused} refused");
    }
}
