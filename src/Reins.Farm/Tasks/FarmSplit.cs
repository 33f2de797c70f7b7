namespace Reins.Farm.Tasks;

/// <summary>The two prompt sets of a farm run: prompts to train on, and held-out prompts to evaluate on.</summary>
public enum FarmSplit
{
    /// <summary>Prompts for pre-training, SFT, preference collection and RL.</summary>
    Train,

    /// <summary>Held-out prompts for evaluation.</summary>
    Eval,
}
