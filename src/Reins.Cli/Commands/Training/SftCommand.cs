using System.CommandLine;
using Reins.Alignment.Sft;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;

namespace Reins.Cli.Commands.Training;

/// <summary>`reins sft`: supervised fine-tuning on language-modelling or prompt-completion JSONL (text or messages).</summary>
internal static class SftCommand
{
    public static Command Create()
    {
        var cmd = new Command("sft", "Supervised fine-tuning (completion-only / assistant-only loss, packing, eval loss and perplexity).");
        var cli = new TrainerCli<SftConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            var (model, tokenizer) = cli.LoadModel(r, heldAsBf16: config.Training.TrainedModelHeldAsBf16);
            var (train, eval) = cli.Datasets<Example>(r);
            var trainer = new SftTrainer(config, model, new TokenizerEncoder(tokenizer), train, eval, tokenizer.Save);
            return Task.FromResult(cli.Run(r, "sft", trainer, cancellation));
        });
        return cmd;
    }
}
