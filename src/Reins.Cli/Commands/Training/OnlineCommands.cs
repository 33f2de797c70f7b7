using System.CommandLine;
using Reins.Alignment.ExpertIteration;
using Reins.Alignment.Grpo;
using Reins.Alignment.Online;
using Reins.Alignment.Ppo;
using Reins.Alignment.ReinforcePlusPlus;
using Reins.Alignment.Rloo;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Cli.Commands.Training;

/// <summary>
/// `reins ppo`, `reins grpo`, `reins rloo`, `reins reinforce-pp`, `reins expert-iteration`: online RL from a policy checkpoint (--model) and a
/// prompt-only JSONL (--train; extra fields reach the reward), with the trainer flags of every command, the reward
/// flags of <see cref="RewardOptions"/>, and --ref-model for the frozen reference (default: --model).
/// </summary>
internal static class OnlineCommands
{
    /// <summary>What every online trainer is built from.</summary>
    private sealed record Inputs(CausalLanguageModel Policy, CausalLanguageModel? Reference, ITextEncoder Encoder, Func<int[], string> Decode,
        IRewardSource Reward, IReadOnlyList<PromptOnlyExample> Prompts, Action<string> WriteExtraFiles);

    public static Command Ppo()
    {
        var valueModel = new Option<string?>("--value-model") { Description = "…ForSequenceClassification checkpoint (e.g. the reward model) to start the critic from (default: the policy's weights with a new value head)." };
        return Create<PpoConfig>("ppo", "PPO with a critic (InstructGPT): KL-shaped token rewards, GAE, clipped policy and value losses.", [valueModel],
            (r, config, x) => new PpoTrainer(config, x.Policy, x.Reference,
                r.GetValue(valueModel) is { } path ? HfCheckpoint.Load(path) : PpoTrainer.CriticFromPolicy(x.Policy, config.Seed),
                x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));
    }

    public static Command Grpo() => Create<GrpoConfig>("grpo", "GRPO: G completions per prompt, group-relative advantages, k3 KL in the loss; DAPO and Dr. GRPO through --loss-type.", [],
        (_, config, x) => new GrpoTrainer(config, x.Policy, x.Reference, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    public static Command Rloo() => Create<RlooConfig>("rloo", "RLOO: k completions per prompt, each baselined by the mean reward of the others.", [],
        (_, config, x) => new RlooTrainer(config, x.Policy, x.Reference, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    public static Command ReinforcePlusPlus() => Create<ReinforcePlusPlusConfig>("reinforce-pp", "REINFORCE++ (OpenRLHF): k1-shaped token returns whitened over the batch; --advantage-estimator reinforce_baseline for the group-baseline variant.", [],
        (_, config, x) => new ReinforcePlusPlusTrainer(config, x.Policy, x.Reference, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    public static Command ExpertIteration() => Create<ExpertIterationConfig>("expert-iteration", "Expert iteration (RAFT / rejection-sampling fine-tuning): sample n per prompt, fine-tune on the best k.", [],
        (_, config, x) => new ExpertIterationTrainer(config, x.Policy, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    private static Command Create<TConfig>(string name, string description, Option[] extra, Func<ParseResult, TConfig, Inputs, ITrainer> build)
        where TConfig : OnlineConfig, new()
    {
        var cmd = new Command(name, description);
        var reference = new Option<string?>("--ref-model") { Description = "Reference model directory (default: --model); loaded only when a KL coefficient is set." };
        cmd.Add(reference);
        foreach (var o in extra) cmd.Add(o);
        var rewards = new RewardOptions(cmd);
        var cli = new TrainerCli<TConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            var (policy, tokenizer) = cli.LoadModel(r);
            var (prompts, eval) = cli.Datasets<PromptOnlyExample>(r);
            if (eval is not null) throw new ArgumentException($"{name}: --eval is not supported by the online trainers; their metrics.jsonl logs the reward of every rollout.");
            bool needsReference = config.KlCoefficient > 0 || config.AdapKlCtrl;
            var referenceModel = needsReference ? cli.LoadModel(r, r.GetValue(reference) ?? cli.ModelPath(r)).Model : null;
            var reward = rewards.Build(r, out var resources);
            using (resources)
            {
                var inputs = new Inputs(policy, referenceModel, new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true),
                    reward, prompts, tokenizer.Save);
                return Task.FromResult(TrainerCli<TConfig>.Run(name, build(r, config, inputs), cli.Resume(r), cancellation));
            }
        });
        return cmd;
    }
}
