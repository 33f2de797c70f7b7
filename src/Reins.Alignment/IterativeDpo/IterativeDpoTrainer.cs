using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Dpo;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Sampling;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Alignment.IterativeDpo;

/// <summary>
/// Settings of iterative DPO: each iteration's DPO pass runs with the training arguments, loss and
/// precompute_ref_log_probs as they are (num_train_epochs or max_steps per pass; a fresh optimiser and schedule each
/// pass), and the sampling between passes. max_prompt_length and max_completion_length bound the sampled prompts and
/// completions, which are never truncated.
/// </summary>
[RetiredSetting("max_length", "512", "each pass trains on pairs as sampled, whose length max_prompt_length + max_completion_length bounds")]
[RetiredSetting("truncation_mode", "keep_end", "each pass trains on pairs as sampled, whose length max_prompt_length + max_completion_length bounds")]
public sealed record IterativeDpoConfig : ITrainerConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <summary>Each pass's objective and its β.</summary>
    public PreferenceLossOptions Loss { get; init; } = new();

    /// <summary>Compute each pass's reference log-probs once up front instead of every step.</summary>
    [JsonPropertyName("precompute_ref_log_probs"), Description("Compute reference log-probs once up front and cache them.")]
    public bool PrecomputeRefLogProbs { get; init; }

    /// <summary>K, rounds of sampling and DPO.</summary>
    [JsonPropertyName("iterations"), Description("Rounds of sampling then DPO (K).")]
    public int Iterations { get; init; } = 3;

    /// <summary>n, completions sampled per prompt.</summary>
    [JsonPropertyName("num_generations"), Description("Completions sampled per prompt (n); the best and the worst by reward make its pair.")]
    public int NumGenerations { get; init; } = 4;

    /// <summary>Prompts sampled each iteration (null = all).</summary>
    [JsonPropertyName("prompts_per_iteration"), Description("Prompts sampled each iteration, taken in turn from a seeded shuffle, so iterations see fresh prompts (null = all).")]
    public int? PromptsPerIteration { get; init; }

    /// <summary>How completions are sampled (prompts and completions of up to 256 tokens by default, as offline DPO keeps).</summary>
    public SamplingSettings Sampling { get; init; } = new() { MaxPromptLength = 256, MaxCompletionLength = 256 };

    /// <summary>Prompts per generation call.</summary>
    [JsonPropertyName("generation_batch_size"), Description("Prompts per generation call (each sampled n times).")]
    public int GenerationBatchSize { get; init; } = 8;

    /// <summary>Use the policy each iteration starts from as that iteration's reference, instead of the initial model.</summary>
    [JsonPropertyName("update_reference"), Description("Reference of each DPO pass: the policy the iteration started from (true) or the initial model (false, as RLHF Workflow).")]
    public bool UpdateReference { get; init; }

    /// <summary>The settings of the DPO pass that writes to <paramref name="outputDir"/>; its pairs are as long as sampling allows.</summary>
    public DpoConfig Pass(string outputDir) => new()
    {
        Training = Training with { OutputDir = outputDir }, Loss = Loss, PrecomputeRefLogProbs = PrecomputeRefLogProbs,
        Data = new() { MaxPromptLength = Sampling.MaxPromptLength, MaxCompletionLength = Sampling.MaxCompletionLength, MaxLength = Sampling.MaxPromptLength + Sampling.MaxCompletionLength },
    };

    /// <summary>Checks every iterative-DPO setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Loss.Validate();
        Sampling.Validate();
        Settings.Require(Iterations >= 1, "iterations", "must be positive");
        Settings.Require(NumGenerations >= 2, "num_generations", "a pair needs at least 2 completions per prompt");
        Settings.Require(PromptsPerIteration is null or >= 1, "prompts_per_iteration", "must be positive");
        Settings.Require(GenerationBatchSize >= 1, "generation_batch_size", "must be positive");
    }
}

/// <summary>Where a run stands after an iteration (iteration_state.json in iteration-K/, written once its DPO pass is done).</summary>
public sealed record IterationState(
    [property: JsonPropertyName("iteration")] int Iteration,
    [property: JsonPropertyName("pairs")] int Pairs,
    [property: JsonPropertyName("ties")] int Ties)
{
    /// <summary>File name inside an iteration directory.</summary>
    public const string FileName = "iteration_state.json";
}

/// <summary>
/// Iterative DPO, the online recipe of "RLHF Workflow" (Dong et al. 2024, Algorithm 1; also Xiong et al. 2024): each
/// iteration samples n completions of each prompt from the current policy, pairs the best against the worst by the
/// reward (prompts whose samples all score the same are skipped and counted), and runs a whole DPO pass
/// (<see cref="DpoTrainer"/>) over those pairs from the current weights. Between the rare policy updates of offline DPO
/// and the per-step ones of online DPO, it keeps on-policy data at the cost of one generation round per pass. The
/// reference is the initial model throughout (update_reference switches to the policy each iteration starts from, so
/// each pass is a DPO step away from the last, as Self-Rewarding LMs, Yuan et al. 2024).
/// Layout: iteration-K/ is each pass's DPO run directory (its metrics.jsonl, checkpoints and final model);
/// metrics.jsonl has one row per iteration (reward, reward_best, reward_worst, pairs/*, the pass's last dpo/* metrics);
/// the final model lands in output_dir. --resume continues after the last finished iteration, inside an unfinished
/// pass from its latest checkpoint (its pairs are sampled again, identically: same weights, same seed).
/// </summary>
public sealed class IterativeDpoTrainer : ITrainer, ITrainingSteps, ICheckpoints
{
    private readonly CompletionSampler sampler;
    private readonly IReadOnlyList<TokenizedPrompt> prompts;
    private readonly CausalLanguageModel? initialReference;
    private readonly PaddingOptions padding;
    private readonly Action<string>? writeExtraFiles;
    private DataSampler promptOrder = null!;
    private long resumePassAt;

    /// <summary>The resolved settings.</summary>
    public IterativeDpoConfig Config { get; }
    /// <inheritdoc/>
    public CausalLanguageModel Model { get; }
    /// <inheritdoc/>
    public RunDirectory Run { get; }
    /// <summary>What tokenisation reported about the prompts.</summary>
    public TokenizationReport DataReport => sampler.Report;

    /// <summary>
    /// Sets up the run. <paramref name="reference"/> is the initial model (null: a frozen copy of <paramref name="policy"/>
    /// as it is now); the reference-free losses (SimPO, ORPO) use none.
    /// </summary>
    public IterativeDpoTrainer(IterativeDpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, OnlineInputs inputs)
    {
        config.Validate();
        if (inputs.EvalPrompts is not null)
            throw new ArgumentException("iterative-dpo: evaluation prompts are not used; each DPO pass evaluates on eval_fraction of its pairs.");
        (Config, Model, writeExtraFiles) = (config, policy, inputs.WriteExtraFiles);
        sampler = new CompletionSampler(inputs.Encoder, inputs.Decode, inputs.Reward, config.Sampling.MaxPromptLength);
        prompts = sampler.Tokenize(inputs.Prompts);
        if (this.prompts.Count < (config.PromptsPerIteration ?? 1))
            throw new InvalidDataException($"iterative-dpo: {this.prompts.Count} usable prompts, fewer than prompts_per_iteration ({config.PromptsPerIteration}).");
        int longest = this.prompts.Max(p => p.InputIds.Length);
        if (longest + config.Sampling.MaxCompletionLength > policy.Config.MaxPositions)
            throw new ArgumentException($"iterative-dpo: prompts of up to {longest} tokens plus max_completion_length {config.Sampling.MaxCompletionLength} exceed the model's {policy.Config.MaxPositions} positions.");
        initialReference = !config.Loss.Type.NeedsReference() || config.UpdateReference ? null : reference ?? FrozenCopy(policy);
        padding = PaddingOptions.For(inputs.Encoder);
        Run = new RunDirectory(config.Training.OutputDir);
    }

    /// <summary>Directory of iteration <paramref name="k"/> (from 1): its DPO pass's run directory.</summary>
    public string IterationPath(int k) => Path.Combine(Run.Path, $"iteration-{k}");

    private int PromptsPerIteration => Config.PromptsPerIteration ?? prompts.Count;

    /// <summary>
    /// Runs the iterations on the <see cref="TrainingLoop"/>, one step and one metrics row each, resuming after the last
    /// finished one when <paramref name="resume"/> is set; progress counts iterations.
    /// </summary>
    public TrainResult Train(bool resume = false, CancellationToken cancellation = default, IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>? progress = null)
    {
        using var lease = Run.Start(Config, Model.Config, DataReport, resume);
        promptOrder = new DataSampler(prompts.Count, Config.Training.Seed, shuffle: true);
        resumePassAt = 0;
        return new TrainingLoop(Run, new LoopSchedule(LoggingSteps: 1, EvalSteps: 0), this).Run(Config.Iterations, this, resume, cancellation, progress);
    }

    /// <summary>Iteration step + 1: its pairs sampled and judged, then its whole DPO pass (resumed inside, when the run resumes there).</summary>
    IReadOnlyDictionary<string, double>? ITrainingSteps.Step(long step, CancellationToken cancellation)
    {
        int k = (int)step + 1;
        var (pairs, metrics) = SamplePairs(k, promptOrder.NextBatch(PromptsPerIteration, dropLast: true), cancellation);
        if (cancellation.IsCancellationRequested) return null;
        string directory = IterationPath(k);
        // A state left by an earlier run over this directory (overwrite_output_dir) must not mark this iteration done.
        if (k != resumePassAt && File.Exists(Path.Combine(directory, IterationState.FileName))) File.Delete(Path.Combine(directory, IterationState.FileName));
        if (pairs.Count > 0)
        {
            var reference = Config.UpdateReference && Config.Loss.Type.NeedsReference() ? FrozenCopy(Model) : initialReference;
            var pass = new DpoTrainer(Config.Pass(directory), Model, reference, pairs, null, padding, writeExtraFiles);
            var result = pass.Train(resume: k == resumePassAt, cancellation);
            if (result.Interrupted) return null;
            foreach (var (key, value) in result.LastMetrics) metrics["dpo/" + key] = value;
        }
        else new RunDirectory(directory).SaveFinalModel(Model, writeExtraFiles);        // every prompt tied: the policy goes on unchanged
        RunDirectory.SaveState(directory, IterationState.FileName, new IterationState(k, pairs.Count, (int)metrics["pairs/ties"]));
        return metrics;
    }

    IReadOnlyDictionary<string, double> ITrainingSteps.Progress(long steps) => new Dictionary<string, double>();

    IReadOnlyDictionary<string, double>? ITrainingSteps.Evaluate() => null;

    /// <summary>
    /// An iteration's directory is its checkpoint: the last one whose iteration_state.json exists (and every one before
    /// it) is finished, its final model the policy to go on from; the prompt order is replayed up to it.
    /// </summary>
    long? ICheckpoints.RestoreLatest(MetricsWindow window)
    {
        int done = 0;
        while (done < Config.Iterations && File.Exists(Path.Combine(IterationPath(done + 1), IterationState.FileName))) done++;
        if (done > 0) Model.CopyParametersFrom(HfCheckpoint.Load(IterationPath(done)));
        for (int k = 0; k < done; k++) promptOrder.NextBatch(PromptsPerIteration, dropLast: true);
        resumePassAt = done + 1;
        return done;
    }

    // Each iteration saves its state as it ends, and an interrupted pass its own checkpoint; every iteration is logged,
    // so no logging window is ever open at a checkpoint.
    void ICheckpoints.AfterStep(long step, long total, MetricsWindow window) { }

    void ICheckpoints.SaveInterrupted(long step, long total, MetricsWindow window) { }

    void ICheckpoints.SaveFinal() => Run.SaveFinalModel(Model, writeExtraFiles);

    /// <summary>
    /// Iteration <paramref name="k"/>'s pairs: n samples of each prompt, best against worst, built from the sampled
    /// token ids (prompt labels −100, the completion as generated, EOS only if it finished), and what the samples show.
    /// </summary>
    private (List<TokenizedPair> Pairs, Dictionary<string, double> Metrics) SamplePairs(int k, int[] promptIndices, CancellationToken cancellation)
    {
        int n = Config.NumGenerations;
        // Each iteration's seed differs, and is the same whenever the iteration is run again (a resumed pass).
        ulong seed = new Rng(Config.Training.Seed ^ (0x9E3779B97F4A7C15UL * (ulong)k)).NextUInt64();
        var pairs = new List<TokenizedPair>();
        var scores = new List<float>();
        var best = new List<float>();
        var worst = new List<float>();
        int ties = 0, finished = 0, tokens = 0;
        for (int start = 0; start < promptIndices.Length && !cancellation.IsCancellationRequested; start += Config.GenerationBatchSize)
        {
            var batch = promptIndices.Skip(start).Take(Config.GenerationBatchSize).Select(i => prompts[i]).ToArray();
            var scored = sampler.Sample(Model, batch, Config.Sampling.Options(n, seed + (ulong)start), Config.Sampling.MissingEosPenalty, cancellation);
            scores.AddRange(scored.Scores);
            finished += scored.Requests.Count(r => r.Finished);
            tokens += scored.Samples.Sum(s => s.Tokens.Length);
            for (int p = 0; p < batch.Length; p++)
            {
                best.Add(scored.Scores.Skip(p * n).Take(n).Max());
                worst.Add(scored.Scores.Skip(p * n).Take(n).Min());
            }
            foreach (var pair in PreferencePairs.BestVersusWorst(scored.Scores, n))
            {
                if (pair is { } q) pairs.Add(new TokenizedPair(Sequence(scored.Samples[q.Chosen]), Sequence(scored.Samples[q.Rejected])));
                else ties++;
            }
        }
        if (cancellation.IsCancellationRequested) return (pairs, []);
        var metrics = new Dictionary<string, double>
        {
            ["reward"] = scores.Average(), ["reward_best"] = best.Average(), ["reward_worst"] = worst.Average(),
            ["pairs/kept"] = pairs.Count, ["pairs/ties"] = ties,
            ["completions/mean_length"] = (double)tokens / scores.Count, ["val/contain_eos_token"] = (double)finished / scores.Count,
        };
        return (pairs, metrics);
    }

    private static TokenizedSequence Sequence(GeneratedSequence sample) =>
        new([.. sample.PromptIds, .. sample.Tokens], [.. Enumerable.Repeat(TokenizedSequence.IgnoreIndex, sample.PromptIds.Length), .. sample.Tokens]);

    private static CausalLanguageModel FrozenCopy(CausalLanguageModel model)
    {
        var copy = model.Clone();
        copy.SetTrainable(false);
        return copy;
    }
}
