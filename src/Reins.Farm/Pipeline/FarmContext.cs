using Reins.Feedback.Annotators;
using System.Diagnostics;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Farm.Pipeline;

/// <summary>
/// What every stage of one farm run shares: the task, the settings and seed, the task's tokenizer, where each stage's run
/// directory goes, the log and progress, the signal to stop, and the training curves the report draws.
/// </summary>
internal sealed class FarmContext(IFarmTask task, FarmConfig config, ulong seed, string outDir, Tokenizer tokenizer, Action<string> log, IProgress<FarmProgress>? progress,
    CancellationToken cancellation = default)
{
    /// <summary>The task.</summary>
    public IFarmTask Task { get; } = task;
    /// <summary>The settings.</summary>
    public FarmConfig Config { get; } = config;
    /// <summary>The run's seed; every random stream is this plus an offset of <see cref="FarmConfig.Seeds"/>.</summary>
    public ulong Seed { get; } = seed;
    /// <summary>The output directory.</summary>
    public string OutDir { get; } = outDir;
    /// <summary>The task's tokenizer.</summary>
    public Tokenizer Tokenizer { get; } = tokenizer;
    /// <summary>The tokenizer as the datasets and trainers use it.</summary>
    public TokenizerEncoder Encoder { get; } = new(tokenizer);
    /// <summary>One line per finished stage.</summary>
    public Action<string> Log { get; } = log;
    /// <summary>Each training step of each stage.</summary>
    public IProgress<FarmProgress>? Progress { get; } = progress;
    /// <summary>Ctrl-C: a training stage stops at its next step and the run ends with <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken Cancellation { get; } = cancellation;
    /// <summary>Every training run's curves, for the report.</summary>
    public List<TrainingCurve> Curves { get; } = [];

    /// <summary>Annotators from outside the simulator (an LLM judge) that join the training annotator pool.</summary>
    public IReadOnlyList<IPairwiseAnnotator> ExternalAnnotators { get; init; } = [];
    /// <summary>Completions each online stage sampled from its policy (its last "episode"), by stage name.</summary>
    public Dictionary<string, long> Episodes { get; } = [];

    // Sampling needs no reward; the gold one fills the slot.
    private readonly CompletionSampler sampler = new(new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true), new GoldRewardSource(task),
        config.Context - config.MaxResponseTokens);

    /// <summary>Prompt tokens kept: the context less the longest response.</summary>
    public int MaxPromptLength => Config.Context - Config.MaxResponseTokens;

    /// <summary>The run directory of stage <paramref name="name"/>.</summary>
    public string RunDir(string name) => Path.Combine(OutDir, "runs", name);

    /// <summary>Token ids as text, special tokens left out.</summary>
    public string Decode(int[] ids) => Tokenizer.Decode(ids, skipSpecialTokens: true);

    /// <summary>The SFT policy as saved: every method starts from a fresh copy.</summary>
    public CausalLanguageModel LoadSft() => Models.Checkpoints.HfCheckpoint.Load(RunDir("sft"));

    /// <summary>
    /// Runs <paramref name="trainer"/> as stage <paramref name="name"/>: its progress reported (and <paramref name="afterStep"/>
    /// called after each step), a summary logged, and its <paramref name="curves"/> (default: loss and reward) kept.
    /// </summary>
    public CausalLanguageModel Train(string name, ITrainer trainer, Action<long>? afterStep = null, string[]? curves = null)
    {
        var timer = Stopwatch.StartNew();
        var result = trainer.Train(cancellation: Cancellation, progress: new SynchronousProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>(p =>
        {
            Progress?.Report(new FarmProgress(name, p.Step, p.Total));
            afterStep?.Invoke(p.Step);
        }));
        // A stage cut short is not a result: nothing after it may use it.
        if (result.Interrupted) throw new OperationCanceledException($"{name} stopped at step {result.Steps}", Cancellation);
        string loss = result.LastMetrics.TryGetValue("loss", out var l) ? $", loss {l:F3}" : "";
        string reward = result.LastMetrics.TryGetValue("reward", out var r) ? $", reward {r:F3}" : "";
        Log($"{name}: {result.Steps} steps in {timer.Elapsed.TotalSeconds:F1} s{loss}{reward}");
        string metrics = Path.Combine(trainer.Run.Path, "metrics.jsonl");
        Curves.AddRange(TrainingCurve.FromMetricsJsonl(name, metrics, curves ?? ["loss", "reward"]));
        if (result.LastMetrics.TryGetValue("episode", out var episodes))
        {
            Episodes[name] = (long)episodes;
            // The online methods' reward against completions sampled: the budget they were given, on one axis.
            Curves.AddRange(TrainingCurve.FromMetricsJsonl(name, metrics, ["reward"], x: "episode"));
        }
        return trainer.Model;
    }

    /// <summary>
    /// <paramref name="n"/> completions of each prompt at temperature 1, in prompt order (sample j of prompt i at i·n + j),
    /// sampled as the trainers sample (<see cref="CompletionSampler.GenerateAll"/>, 32 prompts a call) from seeds of
    /// <paramref name="seed"/> and each prompt's index.
    /// </summary>
    public IReadOnlyList<GeneratedSequence> Sample(CausalLanguageModel policy, IReadOnlyList<PromptOnlyExample> prompts, int n, ulong seed) =>
        sampler.GenerateAll(policy, sampler.Tokenize(prompts), new SamplingOptions { MaxNewTokens = Config.MaxResponseTokens, NumReturnSequences = n, Seed = seed }, 32);

    /// <summary>The score <paramref name="reward"/> gives each of <paramref name="samples"/> (of <paramref name="prompts"/>), as a trainer's reward sees them.</summary>
    public float[] Score(IRewardSource reward, IReadOnlyList<PromptOnlyExample> prompts, IReadOnlyList<GeneratedSequence> samples)
    {
        var scorer = new CompletionSampler(Encoder, Decode, reward, MaxPromptLength);
        return scorer.Score(scorer.Tokenize(prompts), samples, missingEosPenalty: null).Scores;
    }
}
