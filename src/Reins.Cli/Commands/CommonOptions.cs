using System.CommandLine;
using Reins.Tensors;

namespace Reins.Cli.Commands;

/// <summary>Options shared by several commands.</summary>
internal static class CommonOptions
{
    public static Option<int?> Threads() => new("--threads")
    {
        Description = "Worker threads for kernels (default: REINS_THREADS, else every logical processor — see BENCHMARKS.md for the measurement behind it).",
    };

    public static Option<ulong> Seed() => new("--seed")
    {
        Description = "Random seed; the same seed and settings give the same single-thread result.",
        DefaultValueFactory = _ => 0,
    };

    public static void ApplyThreads(int? threads)
    {
        if (threads is { } t) Engine.Threads = t;
    }
}
