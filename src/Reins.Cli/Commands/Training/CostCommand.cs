using System.CommandLine;
using Reins.Alignment.RewardModeling;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;

namespace Reins.Cli.Commands.Training;

/// <summary>`reins cm`: train a cost model (Safe RLHF) on PKU-SafeRLHF safety preferences or BeaverTails-style labelled responses.</summary>
internal static class CostCommand
{
    public static Command Create()
    {
        var cmd = new Command("cm", "Train a cost model (Safe RLHF): the more harmful response of each PKU-SafeRLHF pair costs more, and a cost above 0 means unsafe; BeaverTails-style {prompt, response, is_safe} records train the sign alone.");
        var cli = new TrainerCli<CostConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            var (model, tokenizer) = cli.LoadModel(r);
            var (train, eval) = cli.Datasets<Example>(r);
            var trainer = new CostModelTrainer(config, model, new TokenizerEncoder(tokenizer), train, eval, tokenizer.Save);
            RewardCommand.ReportDropped(trainer);
            return Task.FromResult(cli.Run(r, "cm", trainer, cancellation));
        });
        return cmd;
    }
}
