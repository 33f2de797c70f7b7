using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Dpo;
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
/// Settings of iterative DPO: <see cref="DpoConfig"/>'s, which each iteration's DPO pass uses as they are (num_train_epochs
/// or max_steps per pass; a fresh optimiser and schedule each pass), plus the sampling between passes.
/// max_prompt_length and max_completion_length bound the sampled prompts and completions, which are never truncated.
/// </summary>
public sealed record IterativeDpoConfig : DpoConfig
{
    /// <summary>K, rounds of sampling and DPO.</summary>
    [JsonPropertyName("iterations"), Description("Rounds of sampling then DPO (K).")]
    public int Iterations { get; init; } = 3;

    /// <summary>n, completions sampled per prompt.</summary>
    [JsonPropertyName("num_generations"), Description("Completions sampled per prompt (n); the best and the worst by reward make its pair.")]
    public int NumGenerations { get; init; } = 4;

    /// <summary>Prompts sampled each iteration (null = all).</summary>
    [JsonPropertyName("prompts_per_iteration"), Description("Prompts sampled each iteration, taken in turn from a seeded shuffle, so iterations see fresh prompts (null = all).")]
    public int? PromptsPerIteration { get; init; }

    /// <summary>Sampling temperature.</summary>
    [JsonPropertyName("temperature"), Description("Sampling temperature (> 0).")]
    public float Temperature { get; init; } = 1f;

    /// <summary>Top-k sampling filter (0 = off).</summary>
    [JsonPropertyName("top_k"), Description("Sample from the k most likely tokens only (0 = off).")]
    public int TopK { get; init; }

    /// <summary>Nucleus sampling filter (1 = off).</summary>
    [JsonPropertyName("top_p"), Description("Nucleus sampling mass (1 = off).")]
    public float TopP { get; init; } = 1f;

    /// <summary>Subtracted from the reward of a completion cut off without EOS (null = off).</summary>
    [JsonPropertyName("missing_eos_penalty"), Description("Subtract this from the reward of completions that end without EOS (null = off).")]
    public float? MissingEosPenalty { get; init; }

    /// <summary>Prompts per generation call.</summary>
    [JsonPropertyName("generation_batch_size"), Description("Prompts per generation call (each sampled n times).")]
    public int GenerationBatchSize { get; init; } = 8;

    /// <summary>Use the policy each iteration starts from as that iteration's reference, instead of the initial model.</summary>
    [JsonPropertyName("update_reference"), Description("Reference of each DPO pass: the policy the iteration started from (true) or the initial model (false, as RLHF Workflow).")]
    public bool UpdateReference { get; init; }

    /// <summary>Checks the iterative settings too.</summary>
    public override void Validate()
    {
        base.Validate();
        static void Require(bool ok, string key, string why) { if (!ok) throw new ArgumentException($"{key}: {why}."); }
        Require(Iterations >= 1, "iterations", "must be positive");
        Require(NumGenerations >= 2, "num_generations", "a pair needs at least 2 completions per prompt");
        Require(PromptsPerIteration is null or >= 1, "prompts_per_iteration", "must be positive");
        Require(Temperature > 0 && float.IsFinite(Temperature), "temperature", "must be positive");
        Require(TopK >= 0 && TopP is > 0 and <= 1, "top_k/top_p", "top_k ≥ 0, top_p in (0, 1]");
        Require(GenerationBatchSize >= 1, "generation_batch_size", "must be positive");
        Require(MaxPromptLength + MaxCompletionLength <= MaxLength, "max_length", $"must hold max_prompt_length + max_completion_length ({MaxPromptLength + MaxCompletionLength}), so no sampled pair is cut");
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
public sealed class IterativeDpoTrainer : ITrainer
{
    private readonly CompletionSampler sampler;
    private readonly IReadOnlyList<TokenizedPrompt> prompts;
    private readonly CausalLanguageModel? initialReference;
    private readonly PaddingOptions padding;
    private readonly Action<string>? writeExtraFiles;

    /// <summary>The resolved settings.</summary>
    public IterativeDpoConfig Config { get; }
    /// <inheritdoc/>
    public CausalLanguageModel Model { get; }
    /// <inheritdoc/>
    public RunDirectory Run { get; }
    /// <summary>What tokenisation reported about the prompts.</summary>
    public TokenizationReport Report => sampler.Report;

    /// <summary>
    /// Sets up the run. <paramref name="reference"/> is the initial model (null: a frozen copy of <paramref name="policy"/>
    /// as it is now); the reference-free losses (SimPO, ORPO) use none.
    /// </summary>
    public IterativeDpoTrainer(IterativeDpoConfig config, CausalLanguageModel policy, CausalLanguageModel? reference, ITextEncoder encoder, Func<int[], string> decode,
        IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, Action<string>? writeExtraFiles)
    {
        config.Validate();
        (Config, Model, this.writeExtraFiles) = (config, policy, writeExtraFiles);
        sampler = new CompletionSampler(encoder, decode, reward, config.MaxPromptLength);
        this.prompts = sampler.Tokenize(prompts);
        if (this.prompts.Count < (config.PromptsPerIteration ?? 1))
            throw new InvalidDataException($"iterative-dpo: {this.prompts.Count} usable prompts, fewer than prompts_per_iteration ({config.PromptsPerIteration}).");
        int longest = this.prompts.Max(p => p.InputIds.Length);
        if (longest + config.MaxCompletionLength > policy.Config.MaxPositions)
            throw new ArgumentException($"iterative-dpo: prompts of up to {longest} tokens plus max_completion_length {config.MaxCompletionLength} exceed the model's {policy.Config.MaxPositions} positions.");
        initialReference = !config.LossType.NeedsReference() || config.UpdateReference ? null : reference ?? FrozenCopy(policy);
        padding = PaddingOptions.For(encoder);
        Run = new RunDirectory(config.OutputDir);
    }

    /// <summary>Directory of iteration <paramref name="k"/> (from 1): its DPO pass's run directory.</summary>
    public string IterationPath(int k) => Path.Combine(Run.Path, $"iteration-{k}");

    /// <summary>Runs the iterations, resuming after the last finished one when <paramref name="resume"/> is set; progress counts iterations.</summary>
    public TrainResult Train(bool resume = false, CancellationToken cancellation = default, IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>? progress = null)
    {
        Run.WriteConfig(ConfigBinder.ToJson(Config), Model.Config);
        int count = Config.PromptsPerIteration ?? prompts.Count;
        var promptOrder = new DataSampler(prompts.Count, Config.Seed, shuffle: true);
        int done = 0;
        if (resume)
        {
            while (done < Config.Iterations && File.Exists(Path.Combine(IterationPath(done + 1), IterationState.FileName))) done++;
            if (done > 0) Model.CopyParametersFrom(HfCheckpoint.Load(IterationPath(done)));
            Run.TruncateMetricsAfter(done);
            for (int k = 0; k < done; k++) promptOrder.NextBatch(count, dropLast: true);
        }

        IReadOnlyDictionary<string, double> last = new Dictionary<string, double>();
        for (int k = done + 1; k <= Config.Iterations; k++)
        {
            var (pairs, metrics) = SamplePairs(k, promptOrder.NextBatch(count, dropLast: true), cancellation);
            if (cancellation.IsCancellationRequested) return new TrainResult(k - 1, Interrupted: true, last);
            string directory = IterationPath(k);
            if (pairs.Count > 0)
            {
                var reference = Config.UpdateReference && Config.LossType.NeedsReference() ? FrozenCopy(Model) : initialReference;
                var pass = new DpoTrainer(Config with { OutputDir = directory }, Model, reference, pairs, null, padding, writeExtraFiles);
                var result = pass.Train(resume: resume && k == done + 1, cancellation);
                if (result.Interrupted) return new TrainResult(k - 1, Interrupted: true, last);
                foreach (var (key, value) in result.LastMetrics) metrics["dpo/" + key] = value;
            }
            else new RunDirectory(directory).SaveFinalModel(Model, writeExtraFiles);        // every prompt tied: the policy goes on unchanged
            RunDirectory.SaveState(directory, IterationState.FileName, new IterationState(k, pairs.Count, (int)metrics["pairs/ties"]));
            Run.AppendMetrics(k, metrics);
            last = metrics;
            progress?.Report((k, Config.Iterations, last));
        }
        Run.SaveFinalModel(Model, writeExtraFiles);
        return new TrainResult(Config.Iterations, Interrupted: false, last);
    }

    /// <summary>
    /// Iteration <paramref name="k"/>'s pairs: n samples of each prompt, best against worst, built from the sampled
    /// token ids (prompt labels −100, the completion as generated, EOS only if it finished), and what the samples show.
    /// </summary>
    private (List<TokenizedPair> Pairs, Dictionary<string, double> Metrics) SamplePairs(int k, int[] promptIndices, CancellationToken cancellation)
    {
        int n = Config.NumGenerations;
        // Each iteration's seed differs, and is the same whenever the iteration is run again (a resumed pass).
        ulong seed = new Rng(Config.Seed ^ (0x9E3779B97F4A7C15UL * (ulong)k)).NextUInt64();
        var pairs = new List<TokenizedPair>();
        var scores = new List<float>();
        var best = new List<float>();
        var worst = new List<float>();
        int ties = 0, finished = 0, tokens = 0;
        for (int start = 0; start < promptIndices.Length && !cancellation.IsCancellationRequested; start += Config.GenerationBatchSize)
        {
            var batch = promptIndices.Skip(start).Take(Config.GenerationBatchSize).Select(i => prompts[i]).ToArray();
            var options = new SamplingOptions
            {
                MaxNewTokens = Config.MaxCompletionLength, Temperature = Config.Temperature, TopK = Config.TopK, TopP = Config.TopP,
                NumReturnSequences = n, Seed = seed + (ulong)start,
            };
            var scored = sampler.Sample(Model, batch, options, Config.MissingEosPenalty);
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
        var copy = CausalLanguageModel.Create(model.Config, seed: 0);
        copy.CopyParametersFrom(model);
        copy.SetTrainable(false);
        return copy;
    }
}
