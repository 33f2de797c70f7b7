using System.CommandLine;
using Reins.Alignment.Objectives;
using Reins.Alignment.ExpertIteration;
using Reins.Alignment.Grpo;
using Reins.Alignment.IterativeDpo;
using Reins.Alignment.Online;
using Reins.Alignment.OnlineDpo;
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
/// `reins ppo`, `reins grpo`, `reins rloo`, `reins reinforce-pp`, `reins expert-iteration`, `reins online-dpo`,
/// `reins iterative-dpo`: online training from a policy checkpoint (--model) and a prompt-only JSONL (--train; extra
/// fields reach the reward), with the trainer flags of every command, the reward flags of <see cref="RewardOptions"/>,
/// and --ref-model for the frozen reference (default: --model).
/// </summary>
internal static class OnlineCommands
{
    /// <summary>What every online trainer is built from.</summary>
    private sealed record Inputs(CausalLanguageModel Policy, CausalLanguageModel? Reference, ITextEncoder Encoder, Func<int[], string> Decode,
        IRewardSource Reward, IReadOnlyList<PromptOnlyExample> Prompts, Action<string> WriteExtraFiles);

    public static Command Ppo()
    {
        var valueModel = new Option<string?>("--value-model") { Description = "…ForSequenceClassification checkpoint (e.g. the reward model) to start the critic from (default: the policy's weights with a new value head)." };
        return Create<PpoConfig>("ppo", "PPO with a critic (InstructGPT): KL-shaped token rewards, GAE, clipped policy and value losses.", [valueModel], c => KlNeedsReference(c.KlCoef, c.PolicyGradient),
            (r, config, x) => new PpoTrainer(config, x.Policy, x.Reference,
                r.GetValue(valueModel) is { } path ? HfCheckpoint.Load(path) : PpoTrainer.CriticFromPolicy(x.Policy, config.Training.Seed),
                x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));
    }

    public static Command Grpo() => Create<GrpoConfig>("grpo", "GRPO: G completions per prompt, group-relative advantages, k3 KL in the loss; DAPO and Dr. GRPO through --loss-type.", [], c => KlNeedsReference(c.Beta, c.PolicyGradient),
        (_, config, x) => new GrpoTrainer(config, x.Policy, x.Reference, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    public static Command Rloo() => Create<RlooConfig>("rloo", "RLOO: k completions per prompt, each baselined by the mean reward of the others.", [], c => KlNeedsReference(c.Beta, c.PolicyGradient),
        (_, config, x) => new RlooTrainer(config, x.Policy, x.Reference, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    public static Command ReinforcePlusPlus() => Create<ReinforcePlusPlusConfig>("reinforce-pp", "REINFORCE++ (OpenRLHF): k1-shaped token returns whitened over the batch; --advantage-estimator reinforce_baseline for the group-baseline variant.", [], c => KlNeedsReference(c.KlCoef, c.PolicyGradient),
        (_, config, x) => new ReinforcePlusPlusTrainer(config, x.Policy, x.Reference, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    public static Command ExpertIteration() => Create<ExpertIterationConfig>("expert-iteration", "Expert iteration (RAFT / rejection-sampling fine-tuning): sample n per prompt, fine-tune on the best k.", [], _ => false,
        (_, config, x) => new ExpertIterationTrainer(config, x.Policy, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    public static Command OnlineDpo() => Create<OnlineDpoConfig>("online-dpo", "Online DPO (OAIF): two samples per prompt each step, the reward's preferred one chosen, one DPO step (any --loss-type) against the reference.", [],
        config => config.Loss.Type.NeedsReference(),
        (_, config, x) => new OnlineDpoTrainer(config, x.Policy, x.Reference, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    public static Command IterativeDpo() => Create<IterativeDpoConfig>("iterative-dpo", "Iterative DPO (RLHF Workflow): each iteration samples n per prompt, pairs best against worst by reward, and runs a DPO pass; --update-reference moves the reference along.", [],
        config => !config.UpdateReference && config.Loss.Type.NeedsReference(),
        (_, config, x) => new IterativeDpoTrainer(config, x.Policy, x.Reference, x.Encoder, x.Decode, x.Reward, x.Prompts, x.WriteExtraFiles));

    private static bool KlNeedsReference(float coefficient, PolicyGradientSettings settings) => coefficient > 0 || settings.AdapKlCtrl;

    private static Command Create<TConfig>(string name, string description, Option[] extra, Func<TConfig, bool> needsReference, Func<ParseResult, TConfig, Inputs, ITrainer> build)
        where TConfig : ITrainerConfig, new()
    {
        var cmd = new Command(name, description);
        var reference = new Option<string?>("--ref-model") { Description = "Reference model directory (default: --model); loaded only when the method needs one (a KL coefficient, a DPO loss with a reference)." };
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
            var referenceModel = needsReference(config) ? cli.LoadModel(r, r.GetValue(reference) ?? cli.ModelPath(r)).Model : null;
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
