using System.Diagnostics;
using Reins.Farm.Evaluation;
using Reins.Farm.Report;
using Reins.Farm.Stages;
using Reins.Farm.Tasks;
using Reins.Farm.Tasks.Safety;
using Reins.Models.Tokenizers;
using Reins.Rewards.Sources;
using Reins.Rewards.RewardModels;

namespace Reins.Farm.Pipeline;

/// <summary>
/// The whole RLHF loop on one task, as AlpacaFarm runs it, one stage after another: pre-train tiny bases → SFT on
/// demonstrations → sample pairs from SFT and label them with the simulated annotator pool → train reward models →
/// run every method with the trainers of Reins.Alignment → the over-optimisation study → evaluate all on held-out
/// prompts (gold reward, proxy reward, KL to SFT, evaluator-pool win-rates) → results.json, metrics/*.jsonl and
/// report.html. Every setting is in <see cref="FarmConfig"/>.
/// </summary>
public sealed class FarmPipeline(IFarmTask task, FarmConfig config, ulong seed, string outDir, Action<string> log, IProgress<FarmProgress>? progress = null)
{
    private const string Bos = "<|bos|>", Eos = "<|eos|>", Pad = "<|pad|>";

    /// <summary>Runs every stage and writes results.json and report.html; returns the results.</summary>
    public FarmResults Run()
    {
        string dir = Path.GetFullPath(outDir);
        Directory.CreateDirectory(dir);
        // A farm run is one experiment: an earlier one's training runs in this directory are replaced, as its results are.
        string runs = Path.Combine(dir, "runs");
        if (Directory.Exists(runs))
        {
            log($"replacing the earlier farm run in {dir}");
            Directory.Delete(runs, recursive: true);
        }
        var corpus = task.PretrainingCorpus(config.CorpusDocuments, seed);
        // Arithmetic keeps digits as separate byte tokens: a BPE would make each number one token and addition a lookup.
        var tokenizer = task.IsVerifiable ? Tokenizer.CreateByteLevel(config.Vocab) : Tokenizer.TrainByteLevelBpe(corpus, config.Vocab, [Bos, Eos, Pad]);
        log($"tokenizer: {tokenizer.VocabSize} tokens");
        var farm = new FarmContext(task, config, seed, dir, tokenizer, log, progress);

        var clock = Stopwatch.StartNew();
        var (policyBase, rewardBase) = Pretraining.Run(farm, corpus);
        var sft = SupervisedFineTuning.Run(farm, policyBase);
        double sftSeconds = clock.Elapsed.TotalSeconds;
        var evaluators = PreferenceCollection.Pool(farm, config.Annotation.EvaluatorMaxTemperature, flipProbability: 0, config.Seeds.Evaluators);
        var annotated = PreferenceCollection.Run(farm, sft);
        var rewardModels = RewardModelTraining.Run(farm, rewardBase, annotated.Preferences);
        var proxy = new RewardModelSource(rewardModels[0], farm.Encoder);

        var evaluation = new MethodEvaluation(farm, task.Prompts(FarmSplit.Eval, config.EvalPrompts, seed + config.Seeds.EvalPrompts), proxy, evaluators);
        evaluation.AddSft(farm.LoadSft(), sftSeconds);
        foreach (int n in config.BestOfN) evaluation.AddBestOfN(n, Stopwatch.StartNew());
        var prompts = task.Prompts(FarmSplit.Train, config.PreferencePrompts, seed + config.Seeds.OnlinePrompts);
        var inputs = new MethodInputs(prompts, annotated.Preferences, proxy, task.IsVerifiable ? new GoldRewardSource(task) : proxy, rewardModels[0]);
        foreach (var method in PolicyMethods.All)
        {
            var timer = Stopwatch.StartNew();
            evaluation.AddPolicy(method.Name, method.Train(farm, inputs), timer);
        }
        var overoptimization = OveroptimizationStudy.Run(farm, evaluation, rewardModels, proxy, prompts);
        var process = task.IsStepByStep
            ? ProcessSupervisionStudy.Run(farm, evaluation, rewardBase, rewardModels[0], prompts, task.Prompts(FarmSplit.Eval, config.EvalPrompts, seed + config.Seeds.EvalPrompts))
            : null;

        var safety = task is ISafetyTask
            ? SafetyStudy.Run(farm, evaluation, rewardBase, inputs, task.Prompts(FarmSplit.Eval, config.EvalPrompts, seed + config.Seeds.EvalPrompts))
            : null;

        var results = new FarmResults(task.Name, seed, config, AnnotatorResults.From(annotated.Agreement), evaluation.Results(), overoptimization)
        {
            ProcessSupervision = process, Safety = safety, Split = config.SplitOf(seed),
        };
        results.Write(dir);
        evaluation.PerPrompt().Write(dir);
        var metricsDir = Path.Combine(dir, "metrics");
        Directory.CreateDirectory(metricsDir);
        foreach (var run in Directory.GetDirectories(Path.Combine(dir, "runs")))
            if (File.Exists(Path.Combine(run, "metrics.jsonl")))
                File.Copy(Path.Combine(run, "metrics.jsonl"), Path.Combine(metricsDir, Path.GetFileName(run) + ".jsonl"), overwrite: true);
        HtmlReport.Write(dir, results, farm.Curves, evaluation.Examples(5), task.Description);
        return results;
    }
}
