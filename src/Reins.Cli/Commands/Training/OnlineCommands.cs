using System.CommandLine;
using Reins.Alignment.Dno;
using Reins.Alignment.ExpertIteration;
using Reins.Alignment.Grpo;
using Reins.Alignment.NashMd;
using Reins.Alignment.IterativeDpo;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.OnlineDpo;
using Reins.Alignment.Ppo;
using Reins.Alignment.ReinforcePlusPlus;
using Reins.Alignment.Rloo;
using Reins.Alignment.Sppo;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.Critics;
using Reins.Rewards.Judges;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Sources;

namespace Reins.Cli.Commands.Training;

/// <summary>
/// `reins ppo`, `reins grpo`, `reins rloo`, `reins reinforce-pp`, `reins expert-iteration`, `reins online-dpo`,
/// `reins iterative-dpo`: online training from a policy checkpoint (--model) and a prompt-only JSONL (--train; extra
/// fields reach the reward; --eval prompts are evaluated every eval_steps), with the trainer flags of every command, the
/// reward flags of <see cref="RewardOptions"/>, and --ref-model for the frozen reference (default: --model).
/// </summary>
internal static class OnlineCommands
{
    public static Command Ppo()
    {
        var valueModel = new Option<string?>("--value-model") { Description = "…ForSequenceClassification checkpoint (e.g. the reward model) to start the critic from (default: the policy's weights with a new value head)." };
        var cost = new Option<string?>("--cost-model")
        {
            Description = "Safe RLHF (PPO-Lagrangian): a cost model (`reins cm`) whose raw cost of each completion is constrained to --threshold by a Lagrange multiplier (--lambda-init, --lambda-lr, --lambda-max, …; --safety-delta for HC-RLHF's pessimistic bound), with a cost critic; or, with --cost-weight w, PPO on reward - w * cost.",
        };
        var costValue = new Option<string?>("--cost-value-model") { Description = "…ForSequenceClassification checkpoint to start Safe RLHF's cost critic from (default: the cost model, as safe-rlhf)." };
        return Create<PpoConfig>("ppo", "PPO with a critic (InstructGPT): KL-shaped token rewards, GAE, clipped policy and value losses; Safe RLHF through --cost-model.", [valueModel, cost, costValue],
            c => KlNeedsReference(c.KlCoef, c.PolicyGradient),
            (r, config, policy, reference, inputs) =>
            {
                var critic = r.GetValue(valueModel) is { } path ? HfCheckpoint.Load(path) : PpoTrainer.CriticFromPolicy(policy, config.Training.Seed);
                if (r.GetValue(cost) is not { } costDir)
                    return r.GetValue(costValue) is null ? new PpoTrainer(config, policy, reference, critic, inputs) : throw new ArgumentException("--cost-value-model: only with --cost-model.");
                bool lagrangian = config.Cost.CostWeight is null;
                if (!lagrangian && r.GetValue(costValue) is not null) throw new ArgumentException("--cost-value-model: fixed shaping (--cost-weight) trains no cost critic.");
                return new PpoTrainer(config, policy, reference, critic, inputs, RewardModelSource.Cost(costDir),
                    lagrangian ? HfCheckpoint.Load(r.GetValue(costValue) ?? costDir) : null);
            });
    }

    public static Command Grpo()
    {
        var critic = new Option<string?>("--critique-model") { Description = "Critique-GRPO with critique_type critic: the generative critic (a causal LM with its tokenizer) that critiques failed responses, prompted as `reins critique` prompts by default and decoding greedily." };
        var cost = new Option<string?>("--cost-model") { Description = "Safe GRPO: a cost model (`reins cm`) whose raw cost of each completion is constrained to --threshold by a Lagrange multiplier (--lambda-init, --lambda-lr, --lambda-max, …)." };
        return Create<GrpoConfig>("grpo", "GRPO: G completions per prompt, group-relative advantages, k3 KL in the loss; DAPO and Dr. GRPO through --loss-type; Critique-GRPO through --critique-refinements; safe GRPO through --cost-model.", [critic, cost],
            c => KlNeedsReference(c.Beta, c.PolicyGradient), (r, config, policy, reference, inputs) => new GrpoTrainer(config, policy, reference, inputs,
                r.GetValue(critic) is { } dir ? Critic(dir, config.Online.Sampling.MaxCompletionLength) : null,
                r.GetValue(cost) is { } costDir ? RewardModelSource.Cost(costDir) : null));
    }

    private static GenerativeCritic Critic(string directory, int maxNewTokens)
    {
        var (model, tokenizer) = HfCheckpoint.LoadWithTokenizer(directory);
        return new GenerativeCritic(model, new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true), new CriticFormat(),
            new Reins.Models.Generation.SamplingOptions { MaxNewTokens = maxNewTokens, Temperature = 0 });
    }

    public static Command Rloo() => Create<RlooConfig>("rloo", "RLOO: k completions per prompt, each baselined by the mean reward of the others.", [],
        c => KlNeedsReference(c.Beta, c.PolicyGradient), (_, config, policy, reference, inputs) => new RlooTrainer(config, policy, reference, inputs));

    public static Command ReinforcePlusPlus() => Create<ReinforcePlusPlusConfig>("reinforce-pp", "REINFORCE++ (OpenRLHF): k1-shaped token returns whitened over the batch; --advantage-estimator reinforce_baseline for the group-baseline variant.", [],
        c => KlNeedsReference(c.KlCoef, c.PolicyGradient), (_, config, policy, reference, inputs) => new ReinforcePlusPlusTrainer(config, policy, reference, inputs));

    public static Command ExpertIteration() => Create<ExpertIterationConfig>("expert-iteration", "Expert iteration (RAFT / rejection-sampling fine-tuning): sample n per prompt, fine-tune on the best k.", [],
        _ => false, (_, config, policy, _, inputs) => new ExpertIterationTrainer(config, policy, inputs));

    public static Command OnlineDpo()
    {
        var judges = new JudgeChoice();
        return Create<OnlineDpoConfig>("online-dpo", "Online DPO (OAIF): two samples per prompt each step, the reward's (or --judge-reward-model's, --preference-model's, or an LLM judge's at --judge-endpoint) preferred one chosen, one DPO step (any --loss-type) against the reference.",
            judges.All, config => config.Loss.Type.NeedsReference(),
            (r, config, policy, reference, inputs) => new OnlineDpoTrainer(config, policy, reference, inputs, judges.Create(r, "online-dpo")), judges);
    }

    /// <summary>
    /// Who decides a pair, when not the reward: a reward model compared with itself, a general preference model, or an
    /// LLM judge over an OpenAI-compatible API; at most one.
    /// </summary>
    private sealed class JudgeChoice
    {
        private readonly Option<string?> rewardModel = new("--judge-reward-model")
        {
            Description = "Reward-model checkpoint that decides each pair (the higher score is chosen); the reward flags' scores are then only logged, as objective/scores.",
        };
        private readonly Option<string?> preferenceModel = new("--preference-model")
        {
            Description = "Preference model (reins rm --objective gpm or pair) that decides each pair with its probability P(first ≻ second); the reward flags' scores are then only logged.",
        };
        private readonly JudgeCommand.JudgeOptions llm = new("judge-");

        public Option[] All => [rewardModel, preferenceModel, .. llm.All];

        // How many of the three kinds of judge the flags name (an LLM judge by its endpoint).
        private int Named(ParseResult r) => new[] { r.GetValue(rewardModel), r.GetValue(preferenceModel), r.GetValue(llm.Endpoint) }.Count(v => v is not null);

        public bool Given(ParseResult r) => Named(r) > 0;

        public IPairwiseJudge? Create(ParseResult r, string command)
        {
            if (Named(r) > 1) throw new ArgumentException($"{command}: give one of --judge-reward-model, --preference-model and --judge-endpoint.");
            // Every rank of a data-parallel run judges the whole rollout itself; an LLM endpoint may answer them differently.
            if (r.GetValue(llm.Endpoint) is not null && Reins.Tensors.Distributed.World.IsDistributed)
                throw new ArgumentException($"{command}: --judge-endpoint does not run data-parallel (ranks could get different answers); use --judge-reward-model or --preference-model under mpirun.");
            var remote = llm.Create(r, defaultCache: null);
            if (r.GetValue(rewardModel) is { } directory)
            {
                var model = RewardModel.Load(directory);
                return new RewardSourceJudge(new RewardModelSource(model, new TokenizerEncoder(model.TokenizerFrom(directory)), name: "judge"));
            }
            return r.GetValue(preferenceModel) is { } preference ? PreferenceModelJudge.Load(preference) : remote;
        }
    }

    public static Command NashMd()
    {
        var judges = new JudgeChoice();
        return Create<NashMdConfig>("nash-md", "Nash-MD (NLHF): one sample per prompt against an opponent drawn from the geometric mixture of policy and reference; P(sample beats opponent) from a preference model or judge (or sigma(r - r') of the reward) drives a REINFORCE step with a KL term.",
            judges.All, _ => true, (r, config, policy, reference, inputs) => new NashMdTrainer(config, policy, reference!, inputs, judges.Create(r, "nash-md")), judges);
    }

    public static Command IterativeDpo() => Iterative<IterativeDpoConfig>("iterative-dpo",
        "Iterative DPO (RLHF Workflow): each iteration samples n per prompt, pairs best against worst by reward (or a judge's win-rates), and runs a DPO pass; --update-reference moves the reference along.");

    public static Command Sppo() => Iterative<SppoConfig>("sppo",
        "SPPO (self-play preference optimisation): each iteration samples n per prompt, estimates each sample's win-rate against the others with a preference model or judge (or the reward), and regresses the best and worst log-ratios against pi_t on (P - 1/2)/beta.");

    public static Command Dno() => Iterative<DnoConfig>("dno",
        "DNO (Direct Nash Optimization, batched on-policy): each iteration samples n per prompt, ranks them by a preference model's or judge's win-rate against the others, and runs a DPO pass against pi_t on large-margin best-worst pairs.");

    private static Command Iterative<TConfig>(string name, string description) where TConfig : IIterativePreferenceConfig, new()
    {
        var judges = new JudgeChoice();
        return Create<TConfig>(name, description, judges.All, config => !config.Iteration.UpdateReference && config.Loss.Type.NeedsReference(),
            (r, config, policy, reference, inputs) => new IterativeDpoTrainer(config, policy, reference, inputs, judges.Create(r, name)), judges);
    }

    private static bool KlNeedsReference(float coefficient, PolicyGradientSettings settings) => coefficient > 0 || settings.AdapKlCtrl;

    private delegate ITrainer Build<in TConfig>(ParseResult r, TConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, OnlineInputs inputs);

    private static Command Create<TConfig>(string name, string description, Option[] extra, Func<TConfig, bool> needsReference, Build<TConfig> build,
        JudgeChoice? judges = null)
        where TConfig : ITrainerConfig, new()
    {
        var cmd = new Command(name, description);
        var reference = new Option<string?>("--ref-model") { Description = "Reference model directory (default: --model, or under --use-peft the policy with its adapters off); loaded only when the method needs one (a KL coefficient, a DPO loss with a reference)." };
        cmd.Add(reference);
        foreach (var o in extra) cmd.Add(o);
        var rewards = new RewardOptions(cmd);
        var cli = new TrainerCli<TConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            var (policy, tokenizer) = cli.LoadPolicy(r, config.Training);
            var (prompts, eval) = cli.Datasets<PromptOnlyExample>(r);
            var referenceModel = needsReference(config) ? cli.Reference(r, config.Training, policy, r.GetValue(reference)) : null;
            // A judge or preference model decides on its own; without reward flags the logged reward is then 0.
            var reward = rewards.Build(r, out var resources, judges?.Given(r) == true ? new FunctionRewardSource("no_reward", _ => 0f) : null, config.Training);
            using (resources)
            {
                var inputs = new OnlineInputs(new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true), reward, prompts)
                {
                    EvalPrompts = eval, WriteExtraFiles = tokenizer.Save,
                };
                return Task.FromResult(cli.Run(r, name, build(r, config, policy, referenceModel, inputs), cancellation));
            }
        });
        return cmd;
    }
}
