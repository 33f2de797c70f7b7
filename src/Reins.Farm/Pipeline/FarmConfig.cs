using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Reins.Farm.Tasks;
using Reins.Feedback.Annotators;

namespace Reins.Farm.Pipeline;

/// <summary>
/// The farm's settings: model sizes, data sizes, and every stage's step count, learning rate and seed offset.
/// <see cref="Default"/> is the frozen first configuration (farm/configs/untuned.json, less the development prompts it
/// did not reserve); <see cref="ForTask"/> is what `reins farm` runs, a task's tuned file when `reins farm tune` wrote
/// one; <see cref="QuickOf"/> shrinks any of them. A run writes the configuration it used into results.json.
/// </summary>
public sealed record FarmConfig
{
    /// <summary>Vocabulary of the task tokenizer (a byte-level BPE trained on the task's corpus).</summary>
    public int Vocab { get; init; } = 512;
    /// <summary>Context of every model (prompt + response).</summary>
    public int Context { get; init; } = 64;
    /// <summary>Longest response in tokens.</summary>
    public int MaxResponseTokens { get; init; } = 24;
    /// <summary>Policy width, layers and heads (GPT-2 family).</summary>
    public ModelSize Policy { get; init; } = new(128, 4, 4);
    /// <summary>Reward-model and critic width, layers and heads.</summary>
    public ModelSize RewardModel { get; init; } = new(64, 2, 4);
    /// <summary>Documents of the pre-training corpus.</summary>
    public int CorpusDocuments { get; init; } = 6000;
    /// <summary>Demonstrations for SFT.</summary>
    public int Demonstrations { get; init; } = 2000;
    /// <summary>Prompts whose two SFT samples the annotator pool labels; the online methods train on as many prompts.</summary>
    public int PreferencePrompts { get; init; } = 1500;
    /// <summary>Held-out prompts every method is evaluated on.</summary>
    public int EvalPrompts { get; init; } = 200;

    /// <summary>Sequences (or pairs) per step of pre-training, SFT, reward-model training and DPO.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Pre-training of the policy's and the reward model's base (packed blocks of the context).</summary>
    public PretrainSettings Pretrain { get; init; } = new();
    /// <summary>Supervised fine-tuning on demonstrations.</summary>
    public TrainingStage Sft { get; init; } = new(Steps: 250, LearningRate: 1e-3f, WarmupRatio: 0.1);
    /// <summary>The simulated annotators who label pairs, and the evaluators who judge win-rates.</summary>
    public AnnotationSettings Annotation { get; init; } = new();
    /// <summary>Reward models: one proxy and the ensemble's other members.</summary>
    public RewardModelSettings RewardModels { get; init; } = new();
    /// <summary>Offline DPO on the annotated pairs.</summary>
    public DpoSettings Dpo { get; init; } = new();
    /// <summary>What every online method shares, so their budgets are equal.</summary>
    public OnlineSettings Online { get; init; } = new();
    /// <summary>Expert iteration (the best of n samples imitated).</summary>
    public ExpertIterationSettings ExpertIteration { get; init; } = new();
    /// <summary>Online DPO, the reward model choosing between two samples.</summary>
    public OnlineDpoSettings OnlineDpo { get; init; } = new();
    /// <summary>PPO against the reward model (or the gold reward on a verifiable task).</summary>
    public PpoSettings Ppo { get; init; } = new();
    /// <summary>GRPO (no KL penalty, TRL's default).</summary>
    public GroupMethodSettings Grpo { get; init; } = new(Beta: 0);
    /// <summary>RLOO (KL coefficient 0.05, TRL's default).</summary>
    public GroupMethodSettings Rloo { get; init; } = new(Beta: 0.05f);
    /// <summary>The n of each best-of-n row.</summary>
    public IReadOnlyList<int> BestOfN { get; init; } = [4, 16];
    /// <summary>The over-optimisation study (Gao et al.): small-KL PPO against one reward model and two ensemble aggregates.</summary>
    public OveroptimizationSettings Overoptimization { get; init; } = new();
    /// <summary>Process supervision on a step-by-step task: PRMs against an ORM, a generative critic, dense PPO.</summary>
    public ProcessSupervisionSettings Process { get; init; } = new();
    /// <summary>The safety study on a safety task: safety labels, a cost model, constrained methods, safety tests, jailbreak drift.</summary>
    public SafetySettings Safety { get; init; } = new();
    /// <summary>The cyclic study's self-play methods (Nash-MD, SPPO, DNO) against a general preference model.</summary>
    public SelfPlaySettings SelfPlay { get; init; } = new();
    /// <summary>The pluralistic study's EM mixture reward model.</summary>
    public PluralisticSettings Pluralistic { get; init; } = new();
    /// <summary>
    /// Development seeds: the only ones tuning may read; every other seed is a test seed, the only kind reported. A run
    /// records which it was (results.json's "split"), and a multi-seed summary refuses to mix them.
    /// </summary>
    public IReadOnlyList<ulong> DevelopmentSeeds { get; init; } = [101, 102, 103];
    /// <summary>"dev" for a development seed, "test" for any other.</summary>
    public string SplitOf(ulong seed) => DevelopmentSeeds.Contains(seed) ? "dev" : "test";
    /// <summary>
    /// Whether a quarter of the held-out prompts (<see cref="FarmSplit.Development"/>) is kept for tuning and reports
    /// evaluate on the rest (<see cref="FarmSplit.Test"/>); false (the untuned config) evaluates on all of them.
    /// </summary>
    public bool ReserveDevelopmentPrompts { get; init; } = true;
    /// <summary>The prompts a report evaluates on.</summary>
    [JsonIgnore]
    public FarmSplit EvaluationSplit => ReserveDevelopmentPrompts ? FarmSplit.Test : FarmSplit.Eval;
    /// <summary>What is added to the run's seed for each random stream, so the streams differ.</summary>
    public SeedOffsets Seeds { get; init; } = new();

    /// <summary>The frozen first configuration, every method on the same first-guess settings.</summary>
    public static FarmConfig Default { get; } = new();

    /// <summary>
    /// The configuration `reins farm --task <paramref name="task"/>` runs: farm/configs/&lt;task&gt;.json as `reins farm
    /// tune --write-config` wrote it (built into the assembly), or <see cref="Default"/> for a task never tuned.
    /// </summary>
    public static FarmConfig ForTask(string task)
    {
        using var stream = typeof(FarmConfig).Assembly.GetManifestResourceStream($"farm-configs/{task}.json");
        return stream is null ? Default : Parse(new StreamReader(stream).ReadToEnd(), $"farm/configs/{task}.json");
    }

    /// <summary>
    /// This config with every online method given <paramref name="samples"/> sampled completions (the steps are the
    /// samples over the batch, which must divide them).
    /// </summary>
    public FarmConfig WithOnlineBudget(long samples)
    {
        if (samples <= 0 || samples % Online.BatchSize != 0 || samples / Online.BatchSize > int.MaxValue)
            throw new ArgumentException($"a budget of {samples} completions is not a positive multiple of the online batch ({Online.BatchSize}).");
        return this with { Online = Online with { Steps = (int)(samples / Online.BatchSize) } };
    }

    /// <summary>The config as JSON, with results.json's snake_case keys.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, FarmConfigJsonContext.Default.FarmConfig);

    /// <summary>
    /// A config file (results.json's "config" object, or any part of it: what is left out keeps its default); a key
    /// the config does not have is an error naming the file, so a typo never silently falls back to a default.
    /// </summary>
    public static FarmConfig Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>A config file's text (see <see cref="Load"/>); <paramref name="source"/> names it in errors.</summary>
    public static FarmConfig Parse(string json, string source)
    {
        try
        {
            // The file's keys laid over the default's: a record's init-only members left out would otherwise read as 0.
            var merged = JsonNode.Parse(Default.ToJson())!.AsObject();
            Overlay(merged, JsonNode.Parse(json) as JsonObject ?? throw new JsonException("expected a JSON object"));
            return JsonSerializer.Deserialize(merged.ToJsonString(), FarmConfigJsonContext.Default.FarmConfig) ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not a farm config: {e.Message}"); }
    }

    // Objects merge key by key; anything else replaces what was there.
    private static void Overlay(JsonObject target, JsonObject source)
    {
        foreach (var (key, value) in source)
            if (value is JsonObject inner && target[key] is JsonObject existing) Overlay(existing, inner);
            else target[key] = value?.DeepClone();
    }

    /// <summary><see cref="Default"/> made quick (what the tests run).</summary>
    public static FarmConfig Quick { get; } = QuickOf(Default);

    /// <summary>
    /// <paramref name="config"/> with every stage and method given fewer steps and prompts (≤ 1 minute); its learning
    /// rates, KL coefficients and group sizes are kept, so `--quick` previews the same settings.
    /// </summary>
    public static FarmConfig QuickOf(FarmConfig config) => config with
    {
        CorpusDocuments = 1500, Demonstrations = 400, PreferencePrompts = 200, EvalPrompts = 40,
        Pretrain = config.Pretrain with { Steps = 60, RewardBaseSteps = 40 },
        Sft = config.Sft with { Steps = 60 },
        Annotation = config.Annotation with { Annotators = 4 },
        RewardModels = config.RewardModels with { Steps = 40, EnsembleMembers = 2 },
        Dpo = config.Dpo with { Steps = 20 },
        Online = config.Online with { Steps = 8 },
        Overoptimization = config.Overoptimization with { Steps = 12, Every = 4 },
        Process = config.Process with
        {
            TracePrompts = 60, ShepherdCompletions = 2, PrmSteps = 30, CriticSteps = 30, BestOfN = [1, 4, 16], ProcessBenchPerClass = 20, PpoSteps = 8, PpoEvery = 4,
        },
        Safety = config.Safety with { SafetyPrompts = 200, CostModelSteps = 40, DriftPeriods = 4, DriftPromptsPerPeriod = 40, DetectorSteps = 40 },
    };
}

/// <summary>A GPT-2 family model's width, depth and heads.</summary>
public sealed record ModelSize(int Hidden, int Layers, int Heads);

/// <summary>A supervised stage's steps, peak learning rate (cosine schedule) and warm-up.</summary>
public sealed record TrainingStage(int Steps, float LearningRate, double WarmupRatio);

/// <summary>Pre-training of the two bases on the task's corpus.</summary>
/// <param name="Steps">Steps of the policy's base.</param>
/// <param name="RewardBaseSteps">Steps of the reward model's base.</param>
/// <param name="LearningRate">Peak learning rate (cosine schedule).</param>
/// <param name="WarmupRatio">Share of the steps in warm-up.</param>
/// <param name="WeightDecay">AdamW's weight decay.</param>
public sealed record PretrainSettings(int Steps = 300, int RewardBaseSteps = 200, float LearningRate = 3e-3f, double WarmupRatio = 0.05, float WeightDecay = 0.1f);

/// <summary>
/// The annotator pools (AlpacaFarm's p_sim): Bradley–Terry choosers on the gold reward whose temperatures, as fractions
/// of the task's gold range, spread geometrically between a low and a high one, with a position bias and the task's
/// length bias. Training annotators also flip a share of their labels; evaluators do not.
/// </summary>
/// <param name="Annotators">Annotators in the training pool and in the evaluator pool.</param>
/// <param name="MinTemperature">The most careful annotator's temperature, as a fraction of the gold range.</param>
/// <param name="MaxTemperature">The most careless training annotator's temperature.</param>
/// <param name="EvaluatorMaxTemperature">The most careless evaluator's temperature.</param>
/// <param name="FlipProbability">Share of the training labels flipped at random (AlpacaFarm's 0.25).</param>
/// <param name="PositionBias">Logit added to preferring the first response shown (its sign alternates across the pool).</param>
public sealed record AnnotationSettings(int Annotators = 8, double MinTemperature = 0.05, double MaxTemperature = 0.3, double EvaluatorMaxTemperature = 0.2,
    double FlipProbability = AnnotatorProfile.AlpacaFarmFlipProbability, double PositionBias = 0.2);

/// <summary>The reward models trained on the annotated pairs.</summary>
/// <param name="Steps">Steps of each member.</param>
/// <param name="LearningRate">Learning rate (linear decay).</param>
/// <param name="EnsembleMembers">Members of the ensemble (WCO/UWO); the first is the proxy every method optimises.</param>
/// <param name="MemberSeedStride">Member m trains with seed + m × this, its own initialisation and data order.</param>
public sealed record RewardModelSettings(int Steps = 200, float LearningRate = 1e-3f, int EnsembleMembers = 3, ulong MemberSeedStride = 7919);

/// <summary>Offline DPO on the annotated pairs.</summary>
/// <param name="Steps">Steps.</param>
/// <param name="LearningRate">Learning rate (linear decay).</param>
/// <param name="Beta">β.</param>
public sealed record DpoSettings(int Steps = 150, float LearningRate = 2e-4f, float Beta = 0.1f);

/// <summary>What the online methods share: steps, batch, and the penalty for completions the length cap cut off.</summary>
/// <param name="Steps">Steps of PPO, GRPO, RLOO, online DPO and expert iteration.</param>
/// <param name="BatchSize">Completions per step.</param>
/// <param name="MissingEosPenalty">Subtracted from the reward of a completion without EOS.</param>
public sealed record OnlineSettings(int Steps = 60, int BatchSize = 16, float MissingEosPenalty = 1f);

/// <summary>A method sampling a group of completions per prompt (GRPO, RLOO).</summary>
/// <param name="LearningRate">Learning rate.</param>
/// <param name="NumGenerations">Completions sampled per prompt.</param>
/// <param name="Beta">β of the KL to the SFT policy.</param>
public sealed record GroupMethodSettings(float LearningRate = 3e-4f, int NumGenerations = 4, float Beta = 0);

/// <summary>Expert iteration's learning rate, samples per prompt and how many of them it imitates.</summary>
/// <param name="LearningRate">Learning rate.</param>
/// <param name="NumGenerations">Completions sampled per prompt.</param>
/// <param name="KeepTop">The best of them imitated.</param>
public sealed record ExpertIterationSettings(float LearningRate = 3e-4f, int NumGenerations = 4, int KeepTop = 1);

/// <summary>Online DPO's learning rate and β.</summary>
/// <param name="LearningRate">Learning rate.</param>
/// <param name="Beta">β.</param>
public sealed record OnlineDpoSettings(float LearningRate = 2e-4f, float Beta = 0.1f);

/// <summary>PPO's learning rates and KL coefficient; its critic starts from the proxy reward model.</summary>
/// <param name="LearningRate">The policy's learning rate.</param>
/// <param name="CriticLearningRate">The critic's learning rate.</param>
/// <param name="KlCoef">β of the KL penalty in the reward.</param>
public sealed record PpoSettings(float LearningRate = 1e-4f, float CriticLearningRate = 3e-4f, float KlCoef = 0.05f);

/// <summary>The over-optimisation runs: PPO with a small KL coefficient, evaluated every few steps.</summary>
/// <param name="Steps">Steps of each run.</param>
/// <param name="Every">Evaluation interval in steps.</param>
/// <param name="KlCoef">The small KL coefficient.</param>
/// <param name="UncertaintyPenalty">λ of UWO's variance penalty.</param>
public sealed record OveroptimizationSettings(int Steps = 120, int Every = 20, float KlCoef = 0.001f, float UncertaintyPenalty = 1f);

/// <summary>
/// The process-supervision study of a step-by-step task (Lightman et al. 2023; Wang et al. 2024): SFT's solutions to
/// training prompts labelled step by step by the gold checker and by Math-Shepherd's completions; a PRM on each, and an
/// outcome model (ORM: the gold labels' last step only) on the same traces and budget; best-of-n, ProcessBench on
/// held-out traces, and PPO on the PRM's step rewards against PPO on the ORM's outcome.
/// </summary>
/// <param name="TracePrompts">Training prompts whose SFT solutions are labelled.</param>
/// <param name="TracesPerPrompt">Solutions sampled per prompt.</param>
/// <param name="ShepherdCompletions">Math-Shepherd's completions from each step's prefix.</param>
/// <param name="PrmSteps">Steps of each PRM, the ORM and nothing else: the same budget.</param>
/// <param name="PrmLearningRate">Their learning rate.</param>
/// <param name="CriticSteps">SFT steps of the generative critic on the traces' earliest-error labels.</param>
/// <param name="BestOfN">The n of each best-of-n point (samples per evaluation prompt: the largest).</param>
/// <param name="ProcessBenchPerClass">Held-out traces per class (with a wrong step, all right) in the farm's ProcessBench.</param>
/// <param name="PpoSteps">Steps of each PPO run.</param>
/// <param name="PpoEvery">Gold accuracy measured every this many steps.</param>
public sealed record ProcessSupervisionSettings(int TracePrompts = 400, int TracesPerPrompt = 4, int ShepherdCompletions = 4, int PrmSteps = 200,
    float PrmLearningRate = 1e-3f, int CriticSteps = 200, IReadOnlyList<int>? BestOfN = null, int ProcessBenchPerClass = 100, int PpoSteps = 60, int PpoEvery = 10)
{
    /// <summary>The n of each best-of-n point.</summary>
    public IReadOnlyList<int> BestOfN { get; init; } = BestOfN ?? [1, 4, 16, 64];
}

/// <summary>Offsets from the run's seed of each random stream.</summary>
/// <param name="Annotators">The training annotator pool.</param>
/// <param name="Evaluators">The evaluator pool.</param>
/// <param name="PreferencePrompts">The prompts whose pairs are annotated.</param>
/// <param name="PreferenceSamples">The two SFT samples of each of them.</param>
/// <param name="EvalPrompts">The held-out evaluation prompts.</param>
/// <param name="OnlinePrompts">The online methods' training prompts.</param>
/// <param name="SftSamples">SFT's samples of the evaluation prompts.</param>
/// <param name="BestOfNSamples">Best-of-n's samples (plus n).</param>
/// <param name="PolicySamples">Each trained policy's samples (plus the policy's row).</param>
/// <param name="CheckpointSamples">The over-optimisation checkpoints' samples.</param>
/// <param name="WinRates">The evaluators' win-rate judgements.</param>
/// <param name="Bootstrap">The bootstrap intervals (gold, proxy, KL and win-rate take this and the next three).</param>
/// <param name="ProcessTraces">The process-supervision study's training traces and its Math-Shepherd completions.</param>
/// <param name="ProcessSamples">The study's held-out samples (best-of-n, ProcessBench) and its PPO evaluations.</param>
/// <param name="SafetyLabels">The safety study's prompts, samples and label noise.</param>
/// <param name="JailbreakDrift">The jailbreak-drift stream and its detectors.</param>
/// <param name="CyclicPairs">The cyclic study's held-out pairs.</param>
/// <param name="GroupWinRates">The pluralistic study's per-group win-rate judgements.</param>
public sealed record SeedOffsets(ulong Annotators = 1, ulong Evaluators = 2, ulong PreferencePrompts = 3, ulong PreferenceSamples = 4, ulong EvalPrompts = 5,
    ulong OnlinePrompts = 6, ulong SftSamples = 100, ulong BestOfNSamples = 200, ulong PolicySamples = 300, ulong CheckpointSamples = 400, ulong WinRates = 500,
    ulong Bootstrap = 600, ulong ProcessTraces = 700, ulong ProcessSamples = 800, ulong SafetyLabels = 900, ulong JailbreakDrift = 1000, ulong CyclicPairs = 1100, ulong GroupWinRates = 1200);

/// <summary>
/// The safety study (issue 15): PKU-SafeRLHF-style labels on pairs of SFT samples, a cost model, the constrained methods
/// against reward-only PPO, HC-RLHF's safety test of every method, and the jailbreak-drift replay. Fixed before the first
/// run and not tuned on its results.
/// </summary>
/// <param name="SafetyPrompts">Training prompts whose two SFT samples are labelled for safety.</param>
/// <param name="LabelFlipProbability">Chance that a response's is_safe label is flipped (the safer-response choice flips with the annotators' flip probability).</param>
/// <param name="CostModelSteps">Steps of the cost model's training.</param>
/// <param name="CostModelLearningRate">Its learning rate.</param>
/// <param name="Threshold">
/// d: the limit on the cost model's expected cost for the Lagrangian methods and the safety test; null = "no less safe
/// than SFT", the SFT policy's mean cost on the safety prompts (a cost of 0 cannot bind here: the benign half of the
/// requests is safe whatever the policy does, and pulls the mean down).
/// </param>
/// <param name="CostWeight">w of ppo_shaped's r − w·c.</param>
/// <param name="LambdaLr">The Lagrange multiplier's learning rate.</param>
/// <param name="BestOfN">n of best_of_n_safe.</param>
/// <param name="Delta">δ of the safety test.</param>
/// <param name="DriftPeriods">Weeks of the jailbreak-drift stream.</param>
/// <param name="DriftPromptsPerPeriod">Prompts a week (a third of them jailbreaks).</param>
/// <param name="DetectorSteps">Steps of the detector's initial training.</param>
/// <param name="DetectorFpr">The false-positive rate the detectors' thresholds are set for.</param>
public sealed record SafetySettings(int SafetyPrompts = 1000, double LabelFlipProbability = 0.1, int CostModelSteps = 200, float CostModelLearningRate = 1e-3f,
    float? Threshold = null, float CostWeight = 1f, float LambdaLr = 0.1f, int BestOfN = 16, double Delta = 0.05,
    int DriftPeriods = 6, int DriftPromptsPerPeriod = 90, int DetectorSteps = 150, double DetectorFpr = 0.001);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(FarmConfig))]
internal sealed partial class FarmConfigJsonContext : JsonSerializerContext;

/// <summary>
/// The self-play methods of the cyclic study, judged by a general preference model trained like the reward models.
/// Each draws the online methods' budget of policy samples (steps × batch): Nash-MD in online steps, SPPO and DNO in
/// iterations of num_generations samples per prompt. Learning rate and β default to online DPO's, the same family.
/// </summary>
/// <param name="LearningRate">Learning rate of all three.</param>
/// <param name="Beta">β of all three (Nash-MD's KL weight, SPPO's η = 1/β, DNO's DPO β).</param>
/// <param name="Iterations">SPPO's and DNO's iterations.</param>
/// <param name="NumGenerations">Samples per prompt each iteration, ranked by win-rate against each other.</param>
/// <param name="EpochsPerIteration">Passes over each iteration's pairs.</param>
public sealed record SelfPlaySettings(float LearningRate = 2e-4f, float Beta = 0.1f, int Iterations = 3, int NumGenerations = 4, int EpochsPerIteration = 2);

/// <summary>The pluralistic study's EM mixture reward model (one component per group, trained like the reward models).</summary>
/// <param name="EmInterval">
/// Optimiser steps between E-steps (0 = once an epoch, the trainer's default). 10 was chosen on the development seeds
/// 101–103, where it put 0.75, 0.62 and 1.00 of the annotators with their own group against 0.62, 0.50 and 1.00 once an
/// epoch (two E-steps in the 200 steps); nothing else was compared.
/// </param>
public sealed record PluralisticSettings(int EmInterval = 10);
