namespace Reins.Farm.Tasks;

/// <summary>
/// The prompt sets of a farm run: prompts to train on, and held-out prompts, of which a fixed part is reserved for
/// tuning (development) and the rest for reporting (test).
/// </summary>
public enum FarmSplit
{
    /// <summary>Prompts for pre-training, SFT, preference collection and RL.</summary>
    Train,

    /// <summary>Every held-out prompt: <see cref="Development"/> and <see cref="Test"/> together (what a config that reserves no development prompts evaluates on).</summary>
    Eval,

    /// <summary>Held-out prompts that `reins farm tune` selects settings on and no report evaluates on.</summary>
    Development,

    /// <summary>Held-out prompts that are not development prompts: what a report evaluates on.</summary>
    Test,
}
