namespace Reins.Alignment.Online;

/// <summary>The KL coefficient β of an online run, fixed or adapted to the measured KL after each rollout.</summary>
public abstract class KlController
{
    /// <summary>β now (set when a run resumes).</summary>
    public float Value { get; set; }

    /// <summary>Adjusts β after a rollout of <paramref name="samples"/> completions whose mean per-sequence KL was <paramref name="kl"/>.</summary>
    public abstract void Update(double kl, int samples);
}

/// <summary>A constant β.</summary>
public sealed class FixedKlController : KlController
{
    /// <summary>β = <paramref name="value"/> throughout.</summary>
    public FixedKlController(float value) => Value = value;

    /// <inheritdoc/>
    public override void Update(double kl, int samples) { }
}

/// <summary>
/// The proportional controller of Ziegler et al. 2019 (§2.2): β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·n/horizon),
/// which steers the per-sequence KL towards <see cref="Target"/> over about <see cref="Horizon"/> samples.
/// </summary>
public sealed class AdaptiveKlController : KlController
{
    /// <summary>The KL (nats per sequence) to hold.</summary>
    public float Target { get; }

    /// <summary>Samples over which β may change by about e^±0.2.</summary>
    public float Horizon { get; }

    /// <summary>Starts at β = <paramref name="initial"/>.</summary>
    public AdaptiveKlController(float initial, float target, float horizon)
    {
        if (target <= 0 || horizon <= 0) throw new ArgumentException("adaptive KL control: target and horizon must be positive.");
        (Value, Target, Horizon) = (initial, target, horizon);
    }

    /// <inheritdoc/>
    public override void Update(double kl, int samples)
    {
        double error = Math.Clamp(kl / Target - 1, -0.2, 0.2);
        Value = (float)(Value * (1 + error * samples / Horizon));
    }
}
