using System.CommandLine;
using Reins.Cli.Commands;

var root = new RootCommand("Reins: learning from human feedback in .NET — train, align and evaluate language models on your own machine.")
{
    PretrainCommand.Create(),
    BenchCommand.Create(),
    TokenizerCommand.Create(),
    TokenizeCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
