using Reins.Feedback.Annotators;

namespace Reins.Farm.Pipeline;

/// <summary>
/// The farm's frozen settings: model sizes, data sizes, and every stage's step count, learning rate and seed offset.
/// <see cref="Default"/> and <see cref="Quick"/> are the checked-in configurations; findings are measured with them
/// unchanged. A run writes the configuration it used into results.json.
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
    /// <summary>GRPO.</summary>
    public GroupMethodSettings Grpo { get; init; } = new(LearningRate: 3e-4f);
    /// <summary>RLOO.</summary>
    public GroupMethodSettings Rloo { get; init; } = new(LearningRate: 3e-4f);
    /// <summary>The n of each best-of-n row.</summary>
    public IReadOnlyList<int> BestOfN { get; init; } = [4, 16];
    /// <summary>The over-optimisation study (Gao et al.): small-KL PPO against one reward model and two ensemble aggregates.</summary>
    public OveroptimizationSettings Overoptimization { get; init; } = new();
    /// <summary>What is added to the run's seed for each random stream, so the streams differ.</summary>
    public SeedOffsets Seeds { get; init; } = new();

    /// <summary>The configuration `reins farm` runs by default (≤ 10 minutes on 2 vCPUs).</summary>
    public static FarmConfig Default { get; } = new();

    /// <summary>Every stage and method with fewer steps and prompts (≤ 2 minutes; what the tests run).</summary>
    public static FarmConfig Quick { get; } = new()
    {
        CorpusDocuments = 1500, Demonstrations = 400, PreferencePrompts = 200, EvalPrompts = 40,
        Pretrain = new() { Steps = 60, RewardBaseSteps = 40 },
        Sft = Default.Sft with { Steps = 60 },
        Annotation = new() { Annotators = 4 },
        RewardModels = new() { Steps = 40, EnsembleMembers = 2 },
        Dpo = new() { Steps = 20 },
        Online = new() { Steps = 8 },
        Overoptimization = new() { Steps = 12, Every = 4 },
    };
}

/// <summary>A GPT-2 family model's width, depth and heads.</summary>
public sealed record ModelSize(int Hidden, int Layers, int Heads);

/// <summary>A supervised stage's steps, peak learning rate (cosine schedule) and warm-up.</summary>
public sealed record TrainingStage(int Steps, float LearningRate, double WarmupRatio);

/// <summary>Pre-training of the two bases on the task's corpus.</summary>
public sealed record PretrainSettings
{
    /// <summary>Steps of the policy's base.</summary>
    public int Steps { get; init; } = 300;
    /// <summary>Steps of the reward model's base.</summary>
    public int RewardBaseSteps { get; init; } = 200;
    /// <summary>Peak learning rate (cosine schedule).</summary>
    public float LearningRate { get; init; } = 3e-3f;
    /// <summary>Share of the steps in warm-up.</summary>
    public double WarmupRatio { get; init; } = 0.05;
    /// <summary>AdamW's weight decay.</summary>
    public float WeightDecay { get; init; } = 0.1f;
}

/// <summary>
/// The annotator pools (AlpacaFarm's p_sim): Bradley–Terry choosers on the gold reward whose temperatures, as fractions
/// of the task's gold range, spread geometrically between a low and a high one, with a position bias and the task's
/// length bias. Training annotators also flip a share of their labels; evaluators do not.
/// </summary>
public sealed record AnnotationSettings
{
    /// <summary>Annotators in the training pool and in the evaluator pool.</summary>
    public int Annotators { get; init; } = 8;
    /// <summary>The most careful annotator's temperature, as a fraction of the gold range.</summary>
    public double MinTemperature { get; init; } = 0.05;
    /// <summary>The most careless training annotator's temperature.</summary>
    public double MaxTemperature { get; init; } = 0.3;
    /// <summary>The most careless evaluator's temperature.</summary>
    public double EvaluatorMaxTemperature { get; init; } = 0.2;
    /// <summary>Share of the training labels flipped at random.</summary>
    public double FlipProbability { get; init; } = AnnotatorProfile.AlpacaFarmFlipProbability;
    /// <summary>Logit added to preferring the first response shown (its sign alternates across the pool).</summary>
    public double PositionBias { get; init; } = 0.2;
}

/// <summary>The reward models trained on the annotated pairs.</summary>
public sealed record RewardModelSettings
{
    /// <summary>Steps of each member.</summary>
    public int Steps { get; init; } = 200;
    /// <summary>Learning rate (linear decay).</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Members of the ensemble (WCO/UWO); the first is the proxy every method optimises.</summary>
    public int EnsembleMembers { get; init; } = 3;
    /// <summary>Member m trains with seed + m × this, its own initialisation and data order.</summary>
    public ulong MemberSeedStride { get; init; } = 7919;
}

/// <summary>Offline DPO on the annotated pairs.</summary>
public sealed record DpoSettings
{
    /// <summary>Steps.</summary>
    public int Steps { get; init; } = 150;
    /// <summary>Learning rate (linear decay).</summary>
    public float LearningRate { get; init; } = 2e-4f;
    /// <summary>β.</summary>
    public float Beta { get; init; } = 0.1f;
}

/// <summary>What the online methods share: steps, batch, and the penalty for completions the length cap cut off.</summary>
public sealed record OnlineSettings
{
    /// <summary>Steps of PPO, GRPO, RLOO, online DPO and expert iteration.</summary>
    public int Steps { get; init; } = 60;
    /// <summary>Completions per step.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Subtracted from the reward of a completion without EOS.</summary>
    public float MissingEosPenalty { get; init; } = 1f;
}

/// <summary>A method sampling a group of completions per prompt (GRPO, RLOO, expert iteration).</summary>
public sealed record GroupMethodSettings(float LearningRate, int NumGenerations = 4);

/// <summary>Expert iteration's learning rate, samples per prompt and how many of them it imitates.</summary>
public sealed record ExpertIterationSettings
{
    /// <summary>Learning rate.</summary>
    public float LearningRate { get; init; } = 3e-4f;
    /// <summary>Completions sampled per prompt.</summary>
    public int NumGenerations { get; init; } = 4;
    /// <summary>The best of them imitated.</summary>
    public int KeepTop { get; init; } = 1;
}

/// <summary>Online DPO's learning rate and β.</summary>
public sealed record OnlineDpoSettings
{
    /// <summary>Learning rate.</summary>
    public float LearningRate { get; init; } = 2e-4f;
    /// <summary>β.</summary>
    public float Beta { get; init; } = 0.1f;
}

/// <summary>PPO's learning rates and KL coefficient; its critic starts from the proxy reward model.</summary>
public sealed record PpoSettings
{
    /// <summary>The policy's learning rate.</summary>
    public float LearningRate { get; init; } = 1e-4f;
    /// <summary>The critic's learning rate.</summary>
    public float CriticLearningRate { get; init; } = 3e-4f;
    /// <summary>β of the KL penalty in the reward.</summary>
    public float KlCoef { get; init; } = 0.05f;
}

/// <summary>The over-optimisation runs: PPO with a small KL coefficient, evaluated every few steps.</summary>
public sealed record OveroptimizationSettings
{
    /// <summary>Steps of each run.</summary>
    public int Steps { get; init; } = 120;
    /// <summary>Evaluation interval in steps.</summary>
    public int Every { get; init; } = 20;
    /// <summary>The small KL coefficient.</summary>
    public float KlCoef { get; init; } = 0.001f;
    /// <summary>λ of UWO's variance penalty.</summary>
    public float UncertaintyPenalty { get; init; } = 1f;
}

/// <summary>Offsets from the run's seed of each random stream.</summary>
public sealed record SeedOffsets
{
    /// <summary>The training annotator pool.</summary>
    public ulong Annotators { get; init; } = 1;
    /// <summary>The evaluator pool.</summary>
    public ulong Evaluators { get; init; } = 2;
    /// <summary>The prompts whose pairs are annotated.</summary>
    public ulong PreferencePrompts { get; init; } = 3;
    /// <summary>The two SFT samples of each of them.</summary>
    public ulong PreferenceSamples { get; init; } = 4;
    /// <summary>The held-out evaluation prompts.</summary>
    public ulong EvalPrompts { get; init; } = 5;
    /// <summary>The online methods' training prompts.</summary>
    public ulong OnlinePrompts { get; init; } = 6;
    /// <summary>SFT's samples of the evaluation prompts.</summary>
    public ulong SftSamples { get; init; } = 100;
    /// <summary>Best-of-n's samples (plus n).</summary>
    public ulong BestOfNSamples { get; init; } = 200;
    /// <summary>Each trained policy's samples (plus the policy's row).</summary>
    public ulong PolicySamples { get; init; } = 300;
    /// <summary>The over-optimisation checkpoints' samples.</summary>
    public ulong CheckpointSamples { get; init; } = 400;
    /// <summary>The evaluators' win-rate judgements.</summary>
    public ulong WinRates { get; init; } = 500;
    /// <summary>The bootstrap intervals (gold, proxy, KL and win-rate take this and the next three).</summary>
    public ulong Bootstrap { get; init; } = 600;
}
