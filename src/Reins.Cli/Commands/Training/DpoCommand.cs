using System.CommandLine;
using Reins.Alignment.Objectives;
using Reins.Alignment.Dpo;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;

namespace Reins.Cli.Commands.Training;

/// <summary>`reins dpo`: the DPO family on preference JSONL (prompt/chosen/rejected, implicit prompts, HH-RLHF).</summary>
internal static class DpoCommand
{
    public static Command Create()
    {
        var cmd = new Command("dpo", "Direct preference optimisation: --loss dpo|ipo|robust|hinge|simpo|orpo (cDPO via --label-smoothing, RPO via --rpo-alpha).");
        var loss = new Option<string?>("--loss") { Description = "Shorthand for --loss-type, with dpo meaning sigmoid." };
        var reference = new Option<string?>("--ref-model") { Description = "Reference model directory (default: --model, or under --use-peft the policy with its adapters off)." };
        cmd.Add(loss);
        cmd.Add(reference);
        var cli = new TrainerCli<DpoConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            if (r.GetValue(loss) is { } name)
                config = config with { Loss = config.Loss with { Type = name == "dpo" ? PreferenceLossType.Sigmoid : ConfigBinder.ParseEnum<PreferenceLossType>(name, "loss") } };
            var (policy, tokenizer) = cli.LoadPolicy(r, config.Training);
            var referenceModel = config.Loss.Type.NeedsReference() ? cli.Reference(r, config.Training, policy, r.GetValue(reference)) : null;
            var (train, eval) = cli.Datasets<PreferenceExample>(r);
            var trainer = new DpoTrainer(config, policy, referenceModel, new TokenizerEncoder(tokenizer), train, eval, tokenizer.Save);
            return Task.FromResult(cli.Run(r, "dpo", trainer, cancellation));
        });
        return cmd;
    }
}
