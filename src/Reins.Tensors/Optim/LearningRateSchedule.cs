namespace Reins.Tensors.Optim;

/// <summary>Shape of the learning-rate curve after warm-up (TRL/transformers' lr_scheduler_type).</summary>
public enum ScheduleKind
{
    /// <summary>Constant after warm-up.</summary>
    Constant,
    /// <summary>Linear decay to zero at the last step.</summary>
    Linear,
    /// <summary>Half-cosine decay to zero at the last step.</summary>
    Cosine,
}

/// <summary>Linear warm-up from 0 then constant, linear or cosine decay, as transformers' get_scheduler defines them.</summary>
public sealed record LearningRateSchedule(ScheduleKind Kind, float PeakLearningRate, long WarmupSteps, long TotalSteps)
{
    /// <summary>The learning rate for 0-based step <paramref name="step"/>.</summary>
    public float At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return PeakLearningRate * step / WarmupSteps;
        if (Kind == ScheduleKind.Constant) return PeakLearningRate;
        double progress = Math.Clamp((double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps), 0, 1);
        double factor = Kind == ScheduleKind.Linear ? 1 - progress : 0.5 * (1 + Math.Cos(Math.PI * progress));
        return (float)(PeakLearningRate * factor);
    }

    /// <summary>Parses "constant", "linear" or "cosine" (TRL's names).</summary>
    public static ScheduleKind ParseKind(string name) => name.ToLowerInvariant() switch
    {
        "constant" or "constant_with_warmup" => ScheduleKind.Constant,
        "linear" => ScheduleKind.Linear,
        "cosine" => ScheduleKind.Cosine,
        _ => throw new ArgumentException($"Unknown lr_scheduler_type '{name}'; expected constant, linear or cosine."),
    };
}
