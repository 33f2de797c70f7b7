using Reins.Feedback.Annotators;
using System.Diagnostics;
using Reins.Farm.Evaluation;
using Reins.Farm.Report;
using Reins.Farm.Stages;
using Reins.Farm.Tasks;
using Reins.Farm.Tasks.Cyclic;
using Reins.Farm.Tasks.Pluralistic;
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
public sealed class FarmPipeline(IFarmTask task, FarmConfig config, ulong seed, string outDir, Action<string> log, IProgress<FarmProgress>? progress = null,
    CancellationToken cancellation = default)
{
    /// <summary>Annotators from outside the simulator (an LLM judge) that join the training annotator pool; none by default.</summary>
    public IReadOnlyList<IPairwiseAnnotator> ExternalAnnotators { get; init; } = [];

    /// <summary>
    /// Runs every stage and writes results.json and report.html; returns the results. Cancelled, it stops at the next
    /// training step with <see cref="OperationCanceledException"/> and writes no results.
    /// </summary>
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
        var shared = SharedStages.Run(task, config, seed, dir, log, progress, cancellation, ExternalAnnotators);
        var farm = shared.Farm;
        var evalPrompts = task.Prompts(config.EvaluationSplit, config.EvalPrompts, seed + config.Seeds.EvalPrompts);
        var evaluation = new MethodEvaluation(farm, evalPrompts, shared.Proxy, shared.Evaluators());
        evaluation.AddSft(farm.LoadSft(), shared.SftSeconds);
        foreach (int n in config.BestOfN) evaluation.AddBestOfN(n, Stopwatch.StartNew());
        foreach (var method in PolicyMethods.All) evaluation.AddTrained(method.Name, () => method.Trainer(farm, shared.Inputs), method.Curves);
        var overoptimization = OveroptimizationStudy.Run(farm, evaluation, shared.RewardModels, shared.Proxy, shared.Inputs.Prompts);
        var process = task.IsStepByStep
            ? ProcessSupervisionStudy.Run(farm, evaluation, shared.RewardBase, shared.RewardModels[0], shared.Inputs.Prompts, evalPrompts)
            : null;
        var safety = task is ISafetyTask ? SafetyStudy.Run(farm, evaluation, shared.RewardBase, shared.Inputs, evalPrompts) : null;
        var cyclic = task is ICyclicTask ? CyclicStudy.Run(farm, evaluation, shared.RewardBase, shared.Inputs, evalPrompts) : null;
        var pluralistic = task is IPluralisticTask ? PluralisticStudy.Run(farm, evaluation, shared.RewardBase, shared.Inputs) : null;

        var results = new FarmResults(task.Name, seed, config, AnnotatorResults.From(shared.Annotated.Agreement, ExternalAnnotators), evaluation.Results(), overoptimization)
        {
            ProcessSupervision = process, Safety = safety, Cyclic = cyclic, Pluralistic = pluralistic, Split = config.SplitOf(seed),
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
