using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;
using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>Hyperparameters of <see cref="KtoLoss"/>, with TRL's names and defaults: the section of the KTO config.</summary>
public sealed record KtoOptions : ISettings
{
    /// <summary>β, the scale of the implied reward.</summary>
    [JsonPropertyName("beta"), Description("beta: scale of the implied reward.")]
    public float Beta { get; init; } = 0.1f;

    /// <summary>λ_D, the weight of desirable examples.</summary>
    [JsonPropertyName("desirable_weight"), Description("Weight of desirable examples (lambda_D).")]
    public float DesirableWeight { get; init; } = 1f;

    /// <summary>λ_U, the weight of undesirable examples.</summary>
    [JsonPropertyName("undesirable_weight"), Description("Weight of undesirable examples (lambda_U); the paper advises lambda_D·n_D / (lambda_U·n_U) in [1, 4/3].")]
    public float UndesirableWeight { get; init; } = 1f;

    /// <inheritdoc/>
    public void Validate() => Settings.Require(Beta > 0, "beta", "must be positive");
}

/// <summary>
/// KTO (Ethayarajh et al. 2024) on unpaired data. With r = log π(y|x) − log π_ref(y|x) and the reference point
/// z = max(0, mean over the batch of log π(y'|x) − log π_ref(y'|x)) on mismatched pairs (each prompt with another
/// example's completion), detached as the paper prescribes: desirable examples lose λ_D·(1 − σ(β(r − z))),
/// undesirable ones λ_U·(1 − σ(β(z − r))); the loss is their mean.
/// </summary>
public static class KtoLoss
{
    /// <summary>The mean loss, the reference point z, and mean rewards β·r of each kind (NaN when a kind is absent).</summary>
    public static (Tensor Loss, float KlReference, float RewardsChosen, float RewardsRejected) Compute(
        Tensor policy, Tensor reference, ReadOnlySpan<bool> desirable, Tensor klPolicy, Tensor klReference, KtoOptions o)
    {
        int batch = policy.Size;
        if (reference.Size != batch || desirable.Length != batch || klPolicy.Size != klReference.Size)
            throw new ArgumentException($"kto: {batch} policy log-probs, {reference.Size} reference, {desirable.Length} labels, {klPolicy.Size}/{klReference.Size} KL terms.");
        float z = 0;
        var kp = klPolicy.Span; var kr = klReference.Span;
        for (int i = 0; i < kp.Length; i++) z += kp[i] - kr[i];
        z = Math.Max(0, kp.Length == 0 ? 0 : z / kp.Length);

        var r = Ops.Reshape(policy, batch) - Ops.Reshape(reference, batch);
        var sign = new float[batch];
        var weight = new float[batch];
        for (int i = 0; i < batch; i++)
        {
            sign[i] = desirable[i] ? 1 : -1;
            weight[i] = desirable[i] ? o.DesirableWeight : o.UndesirableWeight;
        }
        // Desirable: 1 − σ(β(r − z)); undesirable: 1 − σ(β(z − r)) = 1 − σ(−β(r − z)).
        var margin = Tensor.FromArray(sign, batch) * (o.Beta * (r - z));
        var losses = Tensor.FromArray(weight, batch) * (1f - Ops.Sigmoid(margin));
        var rewards = r.ToArray();
        var labels = desirable.ToArray();
        return (Ops.Mean(losses), z, MeanOf(rewards, labels, true, o.Beta), MeanOf(rewards, labels, false, o.Beta));
    }

    private static float MeanOf(float[] rewards, bool[] desirable, bool kind, float beta)
    {
        double sum = 0;
        int count = 0;
        for (int i = 0; i < rewards.Length; i++)
            if (desirable[i] == kind) { sum += rewards[i]; count++; }
        return count == 0 ? float.NaN : (float)(beta * sum / count);
    }
}
