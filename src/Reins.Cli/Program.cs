using System.CommandLine;
using Reins.Cli.Commands;
using Reins.Cli.Commands.Training;
using Reins.Tensors.Distributed;

var root = new RootCommand("Reins: learning from human feedback in .NET — train, align and evaluate language models on your own machine.")
{
    PretrainCommand.Create(),
    BenchCommand.Create(),
    TokenizerCommand.Create(),
    TokenizeCommand.Create(),
    ModelCommand.Create(),
    GenerateCommand.Create(),
    ServeCommand.Create(),
    JudgeCommand.Create(),
    LabelCommand.Create(),
    SftCommand.Create(),
    DpoCommand.Create(),
    KtoCommand.Create(),
    ConfigCommand.Create(),
    RewardCommand.Create(),
    CostCommand.Create(),
    SafetyTestCommand.Create(),
    DetectorCommand.Create(),
    PrmCommand.Create(),
    EvalCommand.Create(),
    CritiqueCommand.Create(),
    OnlineCommands.Ppo(),
    OnlineCommands.Grpo(),
    OnlineCommands.Rloo(),
    OnlineCommands.ReinforcePlusPlus(),
    OnlineCommands.ExpertIteration(),
    OnlineCommands.OnlineDpo(),
    OnlineCommands.IterativeDpo(),
    OnlineCommands.NashMd(),
    OnlineCommands.Sppo(),
    OnlineCommands.Dno(),
    BestOfNCommand.Create(),
    FarmCommand.Create(),
    MemoryPlanCommand.Create(),
};
// mpirun gives each rank a pseudo-terminal, on which .NET's console would write terminal set-up sequences into the
// JSON lines of stdout: a rank's console is no terminal to draw on.
if (World.UnderMpirun) Environment.SetEnvironmentVariable("TERM", "dumb");
// Under mpirun every rank joins MPI_COMM_WORLD first; a rank that fails takes the job down with it (MPI_Abort), since
// the others would otherwise wait for it in their next collective.
int status;
try
{
    World.Initialize();
    var parse = root.Parse(args);
    DataParallel.RequireSupported(parse);
    using var signals = new StopSignals();
    status = await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, signals.Token);
}
catch (Exception e) when (UserErrors.Is(e) || World.IsDistributed)
{
    Console.Error.WriteLine(World.IsDistributed ? $"error on rank {World.Rank} of {World.Size}: {e.Message}" : $"error: {e.Message}");
    status = 1;
}
if (status != 0 && status != 130) World.Abort(status);
World.Finish();
return status;
