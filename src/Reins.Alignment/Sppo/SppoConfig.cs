using Reins.Alignment.IterativeDpo;
using Reins.Alignment.Objectives;
using Reins.Alignment.Training;

namespace Reins.Alignment.Sppo;

/// <summary>
/// Settings of SPPO, self-play preference optimisation (Wu et al. 2024, Algorithm 1; the uclaml/SPPO code), run by
/// <see cref="IterativeDpoTrainer"/>. Each iteration samples num_generations responses per prompt from π_t, estimates
/// each one's win-rate against π_t as its mean preference over the other samples (a preference model or judge, or the
/// reward's comparisons), and regresses the best and the worst response's log-ratio log π/π_t on η(P̂ − ½), η = 1/β —
/// the square loss of <see cref="PreferenceLossType.Sppo"/> — with π_t as the reference. The game's fixed point is the
/// von Neumann winner, which exists when preferences are not transitive. Defaults as the SPPO code: β 0.001 (η = 1000)
/// on summed log-probs; loss_type sppo_hard is TRL's variant with win-rates 1 and 0. With preference_signal score and a
/// general preference model as the judge this is GPO (Zhang et al. 2024): the mean preference score s over the other
/// samples stands in for P̂ − ½, so the target is s̄/β. (The GPM code feeds the raw score mean where SPPO's code expects
/// a probability, so its target is (s̄ − ½)/β; Reins centres the score instead, taking the offset for a quirk.)
/// </summary>
public sealed record SppoConfig : IIterativePreferenceConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public PreferenceLossOptions Loss { get; init; } = new() { Type = PreferenceLossType.Sppo, Beta = 0.001f };

    /// <inheritdoc/>
    public IterationSettings Iteration { get; init; } = new() { UpdateReference = true, JudgeImprovement = true };

    /// <summary>Checks every SPPO setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Loss.Validate();
        Iteration.Validate();
        Settings.Require(Loss.Type is PreferenceLossType.Sppo or PreferenceLossType.SppoHard, "loss_type", "must be sppo or sppo_hard (other losses are iterative-dpo or dno)");
        Settings.Require(Iteration.UpdateReference, "update_reference", "must be true: SPPO regresses on the log-ratio against the iteration's own policy pi_t");
    }
}
