using System.CommandLine;
using Reins.Alignment.Kto;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;

namespace Reins.Cli.Commands.Training;

/// <summary>`reins kto`: KTO on unpaired preference JSONL (prompt/completion/label).</summary>
internal static class KtoCommand
{
    public static Command Create()
    {
        var cmd = new Command("kto", "Kahneman-Tversky optimisation on thumbs-up/down data (prompt, completion, label).");
        var reference = new Option<string?>("--ref-model") { Description = "Reference model directory (default: --model, or under --use-peft the policy with its adapters off)." };
        cmd.Add(reference);
        var cli = new TrainerCli<KtoConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            var (policy, tokenizer) = cli.LoadPolicy(r, config.Training);
            var referenceModel = cli.Reference(r, config.Training, policy, r.GetValue(reference));
            var (train, eval) = cli.Datasets<UnpairedPreferenceExample>(r);
            var trainer = new KtoTrainer(config, policy, referenceModel, new TokenizerEncoder(tokenizer), train, eval, tokenizer.Save);
            return Task.FromResult(cli.Run(r, "kto", trainer, cancellation));
        });
        return cmd;
    }
}
