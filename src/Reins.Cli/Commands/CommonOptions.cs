using System.CommandLine;
using Reins.Tensors;

namespace Reins.Cli.Commands;

/// <summary>Options shared by several commands.</summary>
internal static class CommonOptions
{
    /// <summary>--kv-cache-dtype (vLLM's name): float32, or bfloat16 for half the cache's memory.</summary>
    public static Option<string> KvCacheDtype()
    {
        var option = new Option<string>("--kv-cache-dtype")
        {
            Description = "The KV cache's storage: float32, or bfloat16 (half its memory, for long or many sequences; keys and values rounded as torch rounds, scores and sums float32; slower where the cache fits in cache memory).",
            DefaultValueFactory = _ => "float32",
        };
        option.AcceptOnlyFromAmong("float32", "bfloat16");
        return option;
    }

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
