using System.CommandLine;
using System.CommandLine.Parsing;
using Reins.Tensors.Distributed;

namespace Reins.Cli.Commands;

/// <summary>
/// Which commands run data-parallel under mpirun: the offline trainers, whose steps split their micro-batches over the
/// ranks (<c>OfflineTrainer</c>), the online and iterative methods that sample, score and update only (their samples
/// sharded, <c>ShardedRollout</c>), `pretrain` (each rank its own windows, gradients averaged) and `bench train`. Any other command would run once per rank, each writing the same
/// outputs, so under mpirun it is refused before it starts.
/// </summary>
internal static class DataParallel
{
    /// <summary>The command paths that run data-parallel.</summary>
    public static readonly string[] Commands = ["pretrain", "sft", "dpo", "kto", "rm", "rm ensemble", "rm gate", "cm", "prm", "ppo", "grpo", "rloo", "reinforce-pp", "expert-iteration", "online-dpo", "nash-md", "iterative-dpo", "sppo", "dno", "bench train"];

    /// <summary>Refuses, with the list, a command that does not run data-parallel when this process is one of several ranks.</summary>
    public static void RequireSupported(ParseResult parse)
    {
        if (!World.IsDistributed || parse.Errors.Count > 0) return;
        var names = new List<string>();
        for (var c = parse.CommandResult; c.Parent is CommandResult parent; c = parent) names.Insert(0, c.Command.Name);
        string path = string.Join(' ', names);
        if (!Commands.Contains(path))
            throw new ArgumentException($"reins {path} does not run data-parallel; under mpirun run one of: {string.Join(", ", Commands.Select(c => "reins " + c))}.");
    }
}
