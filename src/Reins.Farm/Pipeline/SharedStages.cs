using System.Diagnostics;
using Reins.Farm.Stages;
using Reins.Farm.Tasks;
using Reins.Feedback.Annotators;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Sources;

namespace Reins.Farm.Pipeline;

/// <summary>
/// What every method of a farm run builds on, in AlpacaFarm's order: the task's tokenizer, pre-trained bases, the SFT
/// policy (saved in the run's "sft" directory), pairs of SFT samples labelled by the annotator pool, and reward models
/// trained on them. `reins farm` runs each method on these once; `reins farm tune` runs many settings of each on them.
/// </summary>
/// <param name="Farm">The run's context, with the config the stages ran with.</param>
/// <param name="RewardBase">The pre-trained base of the reward models (and of the safety and process studies' models).</param>
/// <param name="Annotated">The labelled pairs and the annotators' agreement.</param>
/// <param name="RewardModels">The proxy reward model first, then the ensemble's other members.</param>
/// <param name="Inputs">What the methods learn from.</param>
/// <param name="SftSeconds">Wall time up to the end of SFT: SFT's row in the table.</param>
internal sealed record SharedStages(FarmContext Farm, CausalLanguageModel RewardBase, AnnotatedPreferences Annotated, IReadOnlyList<RewardModel> RewardModels,
    MethodInputs Inputs, double SftSeconds)
{
    private const string Bos = "<|bos|>", Eos = "<|eos|>", Pad = "<|pad|>";

    /// <summary>The proxy reward: the first reward model, scoring as a trainer's reward sees completions.</summary>
    public IRewardSource Proxy => Inputs.Proxy;

    /// <summary>Runs the stages of <paramref name="task"/> with <paramref name="seed"/> into <paramref name="dir"/>.</summary>
    public static SharedStages Run(IFarmTask task, FarmConfig config, ulong seed, string dir, Action<string> log, IProgress<FarmProgress>? progress,
        CancellationToken cancellation, IReadOnlyList<IPairwiseAnnotator>? externalAnnotators = null)
    {
        var corpus = task.PretrainingCorpus(config.CorpusDocuments, seed);
        // Arithmetic keeps digits as separate byte tokens: a BPE would make each number one token and addition a lookup.
        var tokenizer = task.IsVerifiable ? Tokenizer.CreateByteLevel(config.Vocab) : Tokenizer.TrainByteLevelBpe(corpus, config.Vocab, [Bos, Eos, Pad]);
        log($"tokenizer: {tokenizer.VocabSize} tokens");
        var farm = new FarmContext(task, config, seed, dir, tokenizer, log, progress, cancellation) { ExternalAnnotators = externalAnnotators ?? [] };

        var clock = Stopwatch.StartNew();
        var (policyBase, rewardBase) = Pretraining.Run(farm, corpus);
        var sft = SupervisedFineTuning.Run(farm, policyBase);
        double sftSeconds = clock.Elapsed.TotalSeconds;
        var annotated = PreferenceCollection.Run(farm, sft);
        var rewardModels = RewardModelTraining.Run(farm, rewardBase, annotated.Preferences);
        var proxy = new RewardModelSource(rewardModels[0], farm.Encoder);
        var prompts = task.Prompts(FarmSplit.Train, config.PreferencePrompts, seed + config.Seeds.OnlinePrompts);
        var inputs = new MethodInputs(prompts, annotated.Preferences, proxy, task.IsVerifiable ? new GoldRewardSource(task) : proxy, rewardModels[0]);
        return new SharedStages(farm, rewardBase, annotated, rewardModels, inputs, sftSeconds);
    }

    /// <summary>
    /// A fresh evaluator pool (AlpacaFarm's p_sim without label flips). The pool draws its members and noise from its own
    /// generator, so each evaluation that must not depend on what was judged before it gets a new one.
    /// </summary>
    public AnnotatorPool Evaluators() =>
        PreferenceCollection.Pool(Farm, Farm.Config.Annotation.EvaluatorMaxTemperature, flipProbability: 0, Farm.Config.Seeds.Evaluators);
}
