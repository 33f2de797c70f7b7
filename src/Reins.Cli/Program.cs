using System.CommandLine;
using Reins.Cli.Commands;
using Reins.Cli.Commands.Training;

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
try
{
    using var signals = new StopSignals();
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, signals.Token);
}
catch (Exception e) when (UserErrors.Is(e))
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
