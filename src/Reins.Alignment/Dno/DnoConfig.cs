using Reins.Alignment.IterativeDpo;
using Reins.Alignment.Objectives;
using Reins.Alignment.Training;

namespace Reins.Alignment.Dno;

/// <summary>
/// Settings of DNO, Direct Nash Optimization in its batched on-policy form (Rosset et al. 2024, Algorithm 2), run by
/// <see cref="IterativeDpoTrainer"/>. Each iteration samples num_generations responses per prompt from π_t, ranks them
/// by a preference oracle's expected win-rate against the other samples, keeps the best–worst pair only when its
/// win-rate gap is at least min_win_rate_margin (the paper trains on large-margin pairs only), and runs a contrastive
/// DPO pass against π_t, the previous iterate, as the reference; win_rate/vs_previous_iterate measures each iteration's
/// improvement by the same oracle. The 0.25 margin default is this project's choice; the paper's threshold is not
/// reproduced here.
/// </summary>
public sealed record DnoConfig : IIterativePreferenceConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public PreferenceLossOptions Loss { get; init; } = new();

    /// <inheritdoc/>
    public IterationSettings Iteration { get; init; } = new() { UpdateReference = true, MinWinRateMargin = 0.25f, JudgeImprovement = true };

    /// <summary>Checks every DNO setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Loss.Validate();
        Iteration.Validate();
        Settings.Require(Loss.Type.NeedsReference() && Loss.Type is not (PreferenceLossType.Sppo or PreferenceLossType.SppoHard), "loss_type",
            "must be a contrastive loss against pi_t (sigmoid, robust, ipo or hinge); SPPO's regression is reins sppo");
        Settings.Require(Iteration.UpdateReference, "update_reference", "must be true: DNO's reference is the previous iterate pi_t");
        Settings.Require(Iteration.PreferenceSignal == "win_rate", "preference_signal", "must be win_rate: DNO ranks and filters by win-rate");
    }
}
