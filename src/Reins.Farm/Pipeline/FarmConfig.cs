namespace Reins.Farm.Pipeline;

/// <summary>
/// The farm's frozen settings: model sizes, data sizes and step counts of every stage. <see cref="Default"/> and
/// <see cref="Quick"/> are the checked-in configurations; findings are measured with them unchanged.
/// </summary>
public sealed record FarmConfig
{
    /// <summary>Vocabulary of the task tokenizer (a byte-level BPE trained on the task's corpus).</summary>
    public int Vocab { get; init; } = 512;
    /// <summary>Context of every model (prompt + response).</summary>
    public int Context { get; init; } = 64;
    /// <summary>Policy width, layers and heads (GPT-2 family).</summary>
    public (int Hidden, int Layers, int Heads) Policy { get; init; } = (128, 4, 4);
    /// <summary>Reward-model and critic width, layers and heads.</summary>
    public (int Hidden, int Layers, int Heads) RewardModel { get; init; } = (64, 2, 4);
    /// <summary>Longest response in tokens.</summary>
    public int MaxResponseTokens { get; init; } = 24;
    /// <summary>Documents of the pre-training corpus.</summary>
    public int CorpusDocuments { get; init; } = 6000;
    /// <summary>Pre-training steps of the policy base (batch 16 × 64 tokens, packed).</summary>
    public int PretrainSteps { get; init; } = 300;
    /// <summary>Pre-training steps of the reward-model base.</summary>
    public int RewardBasePretrainSteps { get; init; } = 200;
    /// <summary>Demonstrations for SFT.</summary>
    public int Demonstrations { get; init; } = 2000;
    /// <summary>SFT steps (batch 16).</summary>
    public int SftSteps { get; init; } = 250;
    /// <summary>Prompts whose two SFT samples the annotator pool labels.</summary>
    public int PreferencePrompts { get; init; } = 1500;
    /// <summary>Reward-model steps (batch 16 pairs).</summary>
    public int RewardSteps { get; init; } = 200;
    /// <summary>Members of the reward-model ensemble (WCO/UWO).</summary>
    public int EnsembleMembers { get; init; } = 3;
    /// <summary>DPO steps (batch 16 pairs).</summary>
    public int DpoSteps { get; init; } = 150;
    /// <summary>Online steps of PPO, GRPO, RLOO, online DPO and expert iteration.</summary>
    public int OnlineSteps { get; init; } = 60;
    /// <summary>Steps of each over-optimisation PPO run, and how often its policy is evaluated.</summary>
    public int OveroptimizationSteps { get; init; } = 120;
    /// <summary>Evaluation interval of the over-optimisation runs.</summary>
    public int OveroptimizationEvery { get; init; } = 20;
    /// <summary>KL coefficient of the main PPO run.</summary>
    public float PpoKl { get; init; } = 0.05f;
    /// <summary>The small KL coefficient of the over-optimisation runs.</summary>
    public float OveroptimizationKl { get; init; } = 0.001f;
    /// <summary>Held-out prompts every method is evaluated on.</summary>
    public int EvalPrompts { get; init; } = 200;
    /// <summary>Annotators in the training pool and in the evaluator pool.</summary>
    public int Annotators { get; init; } = 8;

    /// <summary>The configuration `reins farm` runs by default (≤ 10 minutes on 2 vCPUs).</summary>
    public static FarmConfig Default { get; } = new();

    /// <summary>Every stage and method with fewer steps and prompts (≤ 2 minutes; what the tests run).</summary>
    public static FarmConfig Quick { get; } = new()
    {
        CorpusDocuments = 1500, PretrainSteps = 60, RewardBasePretrainSteps = 40, Demonstrations = 400, SftSteps = 60,
        PreferencePrompts = 200, RewardSteps = 40, EnsembleMembers = 2, DpoSteps = 20, OnlineSteps = 8,
        OveroptimizationSteps = 12, OveroptimizationEvery = 4, EvalPrompts = 40, Annotators = 4,
    };
}
