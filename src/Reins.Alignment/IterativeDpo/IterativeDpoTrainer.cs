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
using Reins.Rewards.Judges;
using Reins.Rewards.Sources;
using Reins.Tensors;
using Reins.Tensors.Distributed;

namespace Reins.Alignment.IterativeDpo;

/// <summary>
/// What every iterative preference method shares besides its loss: rounds of sampling then a DPO-family pass over the
/// pairs made from the samples. Each pass runs with the training arguments and loss as they are (num_train_epochs or
/// max_steps per pass; a fresh optimiser and schedule each pass). max_prompt_length and max_completion_length bound
/// the sampled prompts and completions, which are never truncated.
/// </summary>
public sealed record IterationSettings : ISettings
{
    /// <summary>Compute each pass's reference log-probs once up front instead of every step.</summary>
    [JsonPropertyName("precompute_ref_log_probs"), Description("Compute reference log-probs once up front and cache them.")]
    public bool PrecomputeRefLogProbs { get; init; }

    /// <summary>K, rounds of sampling and a pass.</summary>
    [JsonPropertyName("iterations"), Description("Rounds of sampling then a preference pass (K).")]
    public int Iterations { get; init; } = 3;

    /// <summary>n, completions sampled per prompt.</summary>
    [JsonPropertyName("num_generations"), Description("Completions sampled per prompt (n); the best and the worst by win-rate against the others make its pair.")]
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
    [JsonPropertyName("update_reference"), Description("Reference of each pass: the policy the iteration started from, pi_t (true), or the initial model (false, as RLHF Workflow).")]
    public bool UpdateReference { get; init; }

    /// <summary>DNO's filter: the least win-rate gap between a pair's chosen and rejected response.</summary>
    [JsonPropertyName("min_win_rate_margin"), Description("Keep a prompt's pair only when its chosen response's win-rate against the other samples exceeds the rejected one's by at least this (DNO's large-margin filter; 0 = any gap).")]
    public float MinWinRateMargin { get; init; }

    /// <summary>What ranks and targets the samples: the judge's win-rates, or (GPO) its preference scores.</summary>
    [JsonPropertyName("preference_signal"), Description("win_rate (each sample's mean P(y > y') over the others) or score (GPO: a general preference model's mean preference score s, standing in for P - 1/2 in SPPO's target).")]
    public string PreferenceSignal { get; init; } = "win_rate";

    /// <summary>Judge each iteration's new policy against the one it started from.</summary>
    [JsonPropertyName("judge_improvement"), Description("After each pass, sample once more per prompt from the new policy and log the judge's win-rate of it against the iteration's first samples (win_rate/vs_previous_iterate).")]
    public bool JudgeImprovement { get; init; }

    /// <inheritdoc/>
    public void Validate()
    {
        Sampling.Validate();
        Settings.Require(Iterations >= 1, "iterations", "must be positive");
        Settings.Require(NumGenerations >= 2, "num_generations", "a pair needs at least 2 completions per prompt");
        Settings.Require(PromptsPerIteration is null or >= 1, "prompts_per_iteration", "must be positive");
        Settings.Require(GenerationBatchSize >= 1, "generation_batch_size", "must be positive");
        Settings.Require(MinWinRateMargin is >= 0 and < 1, "min_win_rate_margin", "must be in [0, 1)");
        Settings.Require(PreferenceSignal is "win_rate" or "score", "preference_signal", "must be win_rate or score");
    }
}

/// <summary>The settings an iterative preference method hands <see cref="IterativeDpoTrainer"/>: its loss and its iterations.</summary>
public interface IIterativePreferenceConfig : ITrainerConfig
{
    /// <summary>Each pass's objective and its β.</summary>
    PreferenceLossOptions Loss { get; }

    /// <summary>Sampling, pairing and the reference.</summary>
    IterationSettings Iteration { get; }
}

/// <summary>Settings of iterative DPO (RLHF Workflow): any DPO-family loss, the reference the initial model by default.</summary>
[RetiredSetting("max_length", "512", "each pass trains on pairs as sampled, whose length max_prompt_length + max_completion_length bounds")]
[RetiredSetting("truncation_mode", "keep_end", "each pass trains on pairs as sampled, whose length max_prompt_length + max_completion_length bounds")]
public sealed record IterativeDpoConfig : IIterativePreferenceConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public PreferenceLossOptions Loss { get; init; } = new();

    /// <inheritdoc/>
    public IterationSettings Iteration { get; init; } = new();

    /// <summary>Checks every iterative-DPO setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Loss.Validate();
        Iteration.Validate();
    }
}

/// <summary>The settings of the DPO pass of an iteration that writes to <paramref name="outputDir"/>; its pairs are as long as sampling allows.</summary>
public static class IterativePreferenceConfigs
{
    /// <summary>The pass's DPO settings.</summary>
    public static DpoConfig Pass(this IIterativePreferenceConfig config, string outputDir) => new()
    {
        Training = config.Training with { OutputDir = outputDir }, Loss = config.Loss, PrecomputeRefLogProbs = config.Iteration.PrecomputeRefLogProbs,
        Data = new()
        {
            MaxPromptLength = config.Iteration.Sampling.MaxPromptLength, MaxCompletionLength = config.Iteration.Sampling.MaxCompletionLength,
            MaxLength = config.Iteration.Sampling.MaxPromptLength + config.Iteration.Sampling.MaxCompletionLength,
        },
    };
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
/// Iterative preference optimisation on samples of the policy itself. Each iteration samples n completions of each
/// prompt from the current policy π_t, estimates each sample's win-rate against the others — P̂(y ≻ π_t), the mean over
/// the other samples of a judge's P(y ≻ y′), or of the reward's comparison (1, 0, ½ for a tie) when no judge is given —
/// pairs the best against the worst (prompts whose samples all tie are skipped and counted; with min_win_rate_margin,
/// so are those whose gap is smaller), and runs a whole DPO-family pass (<see cref="DpoTrainer"/>) over those pairs
/// from the current weights, the pairs carrying their win-rates for SPPO's loss. The methods differ only in loss and
/// reference: iterative DPO ("RLHF Workflow", Dong et al. 2024, Algorithm 1; Xiong et al. 2024) keeps the initial model
/// as the reference (update_reference moves it to π_t, as Self-Rewarding LMs); SPPO and DNO (Sppo/SppoConfig.cs,
/// Dno/DnoConfig.cs) regress on or contrast against π_t. With the reward as judge the pair is best against worst
/// by reward, exactly as before win-rates existed.
/// Layout: iteration-K/ is each pass's DPO run directory (its metrics.jsonl, checkpoints and final model);
/// metrics.jsonl has one row per iteration (reward, reward_best, reward_worst, pairs/*, the pass's last dpo/* metrics,
/// win_rate/vs_previous_iterate with judge_improvement); the final model lands in output_dir. --resume continues after
/// the last finished iteration, inside an unfinished pass from its latest checkpoint (its pairs are sampled again,
/// identically: same weights, same seed).
/// </summary>
public sealed class IterativeDpoTrainer : ITrainer, ITrainingSteps, ICheckpoints
{
    private readonly CompletionSampler sampler;
    private readonly IReadOnlyList<TokenizedPrompt> prompts;
    private readonly CausalLanguageModel? initialReference;
    private readonly PaddingOptions padding;
    private readonly Action<string>? writeExtraFiles;
    private readonly IPairwiseJudge? judge;
    private readonly IPairwiseJudge improvementJudge;
    private readonly string name;
    private DataSampler promptOrder = null!;
    private long resumePassAt;

    /// <summary>The resolved settings.</summary>
    public IIterativePreferenceConfig Config { get; }
    /// <inheritdoc/>
    public CausalLanguageModel Model { get; }
    /// <inheritdoc/>
    public RunDirectory Run { get; }
    /// <summary>What tokenisation reported about the prompts.</summary>
    public TokenizationReport DataReport => sampler.Report;

    private IterationSettings Iteration => Config.Iteration;

    /// <summary>
    /// Sets up the run. <paramref name="reference"/> is the initial model (null: a frozen copy of <paramref name="policy"/>
    /// as it is now); the reference-free losses (SimPO, ORPO) use none. Pairs are judged by <paramref name="judge"/>, or
    /// by the reward's comparison when it is null.
    /// </summary>
    public IterativeDpoTrainer(IIterativePreferenceConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, OnlineInputs inputs, IPairwiseJudge? judge = null)
    {
        config.Validate();
        // Errors name the command: iterative-dpo, sppo or dno.
        name = config is IterativeDpoConfig ? "iterative-dpo" : config.GetType().Name.Replace("Config", "").ToLowerInvariant();
        if (inputs.EvalPrompts is not null)
            throw new ArgumentException($"{name}: evaluation prompts are not used; each pass evaluates on eval_fraction of its pairs.");
        (Config, Model, writeExtraFiles) = (config, policy, inputs.WriteExtraFiles);
        sampler = new CompletionSampler(inputs.Encoder, inputs.Decode, inputs.Reward, config.Iteration.Sampling.MaxPromptLength);
        this.judge = judge;
        improvementJudge = judge ?? new RewardSourceJudge(inputs.Reward);
        prompts = sampler.Tokenize(inputs.Prompts);
        if (prompts.Count < (config.Iteration.PromptsPerIteration ?? 1))
            throw new InvalidDataException($"{name}: {prompts.Count} usable prompts, fewer than prompts_per_iteration ({config.Iteration.PromptsPerIteration}).");
        int longest = prompts.Max(p => p.InputIds.Length);
        if (longest + config.Iteration.Sampling.MaxCompletionLength > policy.Config.MaxPositions)
            throw new ArgumentException($"{name}: prompts of up to {longest} tokens plus max_completion_length {config.Iteration.Sampling.MaxCompletionLength} exceed the model's {policy.Config.MaxPositions} positions.");
        // Adapters before the frozen copy, so that a LoRA policy's reference shares its base instead of copying it.
        config.Training.Peft.Apply(policy, TrainableModel.AdapterSeed(config.Training.Seed, null));
        initialReference = !config.Loss.Type.NeedsReference() || config.Iteration.UpdateReference ? null : reference ?? FrozenCopy(policy);
        padding = PaddingOptions.For(inputs.Encoder);
        Run = new RunDirectory(config.Training.OutputDir);
    }

    /// <summary>Directory of iteration <paramref name="k"/> (from 1): its pass's run directory.</summary>
    public string IterationPath(int k) => Path.Combine(Run.Path, $"iteration-{k}");

    private int PromptsPerIteration => Iteration.PromptsPerIteration ?? prompts.Count;

    /// <summary>
    /// Runs the iterations on the <see cref="TrainingLoop"/>, one step and one metrics row each, resuming after the last
    /// finished one when <paramref name="resume"/> is set; progress counts iterations.
    /// </summary>
    public TrainResult Train(bool resume = false, CancellationToken cancellation = default, IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>? progress = null)
    {
        using var lease = Run.Start(Config, Model.Config, DataReport, resume);
        promptOrder = new DataSampler(prompts.Count, Config.Training.Seed, shuffle: true);
        resumePassAt = 0;
        return new TrainingLoop(Run, new LoopSchedule(LoggingSteps: 1, EvalSteps: 0), this).Run(Iteration.Iterations, this, resume, cancellation, progress);
    }

    /// <summary>Iteration step + 1: its pairs sampled and judged, then its whole pass (resumed inside, when the run resumes there).</summary>
    IReadOnlyDictionary<string, double>? ITrainingSteps.Step(long step, CancellationToken cancellation)
    {
        int k = (int)step + 1;
        var batch = promptOrder.NextBatch(PromptsPerIteration, dropLast: true);
        var (pairs, metrics, firstSamples) = SamplePairs(k, batch, cancellation);
        if (cancellation.IsCancellationRequested) return null;
        string directory = IterationPath(k);
        // A state left by an earlier run over this directory (overwrite_output_dir) must not mark this iteration done.
        if (World.IsMain && k != resumePassAt && File.Exists(Path.Combine(directory, IterationState.FileName))) File.Delete(Path.Combine(directory, IterationState.FileName));
        if (pairs.Count > 0)
        {
            var reference = Iteration.UpdateReference && Config.Loss.Type.NeedsReference() ? FrozenCopy(Model) : initialReference;
            var pass = new DpoTrainer(Config.Pass(directory), Model, reference, pairs, null, padding, writeExtraFiles);
            var result = pass.Train(resume: k == resumePassAt, cancellation);
            if (result.Interrupted) return null;
            foreach (var (key, value) in result.LastMetrics) metrics["dpo/" + key] = value;
        }
        else new RunDirectory(directory).SaveFinalModel(Model, writeExtraFiles, Config.Training.SaveDtype(Model));        // every prompt tied: the policy goes on unchanged
        if (Iteration.JudgeImprovement)
        {
            // The new policy's sample of each prompt against π_t's first sample of it, judged as the pairs were.
            var improved = Sample([.. batch.Select(i => prompts[i])], Iteration.Sampling.Options(1, IterationSeed(k) ^ 0x5DEECE66DUL), cancellation);
            if (cancellation.IsCancellationRequested) return null;
            metrics["win_rate/vs_previous_iterate"] = improvementJudge.Judge([.. improved.Requests.Select((r, p) => new PairToJudge(r, firstSamples[p]))], cancellation).Average();
        }
        if (World.IsMain) RunDirectory.SaveState(directory, IterationState.FileName, new IterationState(k, pairs.Count, (int)metrics["pairs/ties"]));
        return metrics;
    }

    // "episode" as the online trainers count it: completions sampled from the policy to train on (not the improvement judge's).
    IReadOnlyDictionary<string, double> ITrainingSteps.Progress(long steps) =>
        new Dictionary<string, double> { ["episode"] = steps * PromptsPerIteration * Iteration.NumGenerations };

    IReadOnlyDictionary<string, double>? ITrainingSteps.Evaluate() => null;

    /// <summary>
    /// An iteration's directory is its checkpoint: the last one whose iteration_state.json exists (and every one before
    /// it) is finished, its final model the policy to go on from; the prompt order is replayed up to it.
    /// </summary>
    long? ICheckpoints.RestoreLatest(MetricsWindow window)
    {
        int done = 0;
        while (done < Iteration.Iterations && File.Exists(Path.Combine(IterationPath(done + 1), IterationState.FileName))) done++;
        if (done > 0) HfCheckpoint.Restore(Model, IterationPath(done));
        for (int k = 0; k < done; k++) promptOrder.NextBatch(PromptsPerIteration, dropLast: true);
        resumePassAt = done + 1;
        return done;
    }

    // Each iteration saves its state as it ends, and an interrupted pass its own checkpoint; every iteration is logged,
    // so no logging window is ever open at a checkpoint.
    void ICheckpoints.AfterStep(long step, long total, MetricsWindow window) { }

    void ICheckpoints.SaveInterrupted(long step, long total, MetricsWindow window) { }

    void ICheckpoints.SaveFinal() => Run.SaveFinalModel(Model, writeExtraFiles, Config.Training.SaveDtype(Model));

    // Each iteration's seed differs, and is the same whenever the iteration is run again (a resumed pass).
    private ulong IterationSeed(int k) => new Rng(Config.Training.Seed ^ (0x9E3779B97F4A7C15UL * (ulong)k)).NextUInt64();

    /// <summary>
    /// Iteration <paramref name="k"/>'s pairs: n samples of each prompt, the best against the worst by win-rate against
    /// the others, built from the sampled token ids (prompt labels −100, the completion as generated, EOS only if it
    /// finished); what the samples show; and each prompt's first sample, for judging the next policy against.
    /// </summary>
    private (List<TokenizedPair> Pairs, Dictionary<string, double> Metrics, List<ScoringRequest> FirstSamples) SamplePairs(int k, int[] promptIndices, CancellationToken cancellation)
    {
        int n = Iteration.NumGenerations;
        ulong seed = IterationSeed(k);
        var pairs = new List<TokenizedPair>();
        var scores = new List<float>();
        var best = new List<float>();
        var worst = new List<float>();
        var firstSamples = new List<ScoringRequest>();
        int ties = 0, filtered = 0, finished = 0, tokens = 0;
        double gaps = 0;
        for (int start = 0; start < promptIndices.Length && !cancellation.IsCancellationRequested; start += Iteration.GenerationBatchSize)
        {
            var batch = promptIndices.Skip(start).Take(Iteration.GenerationBatchSize).Select(i => prompts[i]).ToArray();
            var scored = Sample(batch, Iteration.Sampling.Options(n, seed + (ulong)start), cancellation);
            if (cancellation.IsCancellationRequested) break;
            scores.AddRange(scored.Scores);
            finished += scored.Requests.Count(r => r.Finished);
            tokens += scored.Samples.Sum(s => s.Tokens.Length);
            var winRates = PreferencePairs.WinRates(scored.Requests, scored.Scores, n, judge, cancellation, preferenceScores: Iteration.PreferenceSignal == "score");
            var chosenPairs = PreferencePairs.BestVersusWorst(winRates, n);
            for (int p = 0; p < batch.Length; p++)
            {
                best.Add(scored.Scores.Skip(p * n).Take(n).Max());
                worst.Add(scored.Scores.Skip(p * n).Take(n).Min());
                firstSamples.Add(scored.Requests[p * n]);
                if (chosenPairs[p] is not { } pair) { ties++; continue; }
                float gap = winRates[pair.Chosen] - winRates[pair.Rejected];
                if (gap < Iteration.MinWinRateMargin) { filtered++; continue; }
                gaps += gap;
                pairs.Add(new TokenizedPair(Sequence(scored.Samples[pair.Chosen]), Sequence(scored.Samples[pair.Rejected])) { WinRates = (winRates[pair.Chosen], winRates[pair.Rejected]) });
            }
        }
        if (cancellation.IsCancellationRequested) return (pairs, [], firstSamples);
        var metrics = new Dictionary<string, double>
        {
            ["reward"] = scores.Average(), ["reward_best"] = best.Average(), ["reward_worst"] = worst.Average(),
            ["pairs/kept"] = pairs.Count, ["pairs/ties"] = ties, ["pairs/filtered"] = filtered,
            ["pairs/win_rate_margin"] = pairs.Count == 0 ? 0 : gaps / pairs.Count,
            ["completions/mean_length"] = (double)tokens / scores.Count, ["val/contain_eos_token"] = (double)finished / scores.Count,
        };
        return (pairs, metrics, firstSamples);
    }

    // The policy's samples of a batch of prompts, scored; in a data-parallel run each rank samples and scores its share
    // (ShardedRollout), and a stop waits for the iteration's end, since every rank must reach the exchange.
    private ScoredCompletions Sample(TokenizedPrompt[] batch, SamplingOptions options, CancellationToken cancellation) => World.IsDistributed
        ? ShardedRollout.SampleAndScore(sampler, Model, batch, options, Iteration.Sampling.MissingEosPenalty, steps: false)
        : sampler.Sample(Model, batch, options, Iteration.Sampling.MissingEosPenalty, cancellation);

    private static TokenizedSequence Sequence(GeneratedSequence sample) =>
        new([.. sample.PromptIds, .. sample.Tokens], [.. Enumerable.Repeat(TokenizedSequence.IgnoreIndex, sample.PromptIds.Length), .. sample.Tokens]);

    private static CausalLanguageModel FrozenCopy(CausalLanguageModel model)
    {
        var copy = model.Clone();
        copy.SetTrainable(false);
        return copy;
    }
}
