using System.Numerics.Tensors;
using Reins.Models.Transformers;

namespace Reins.Models.Generation;

/// <summary>
/// The geometric mixture of a policy π and a reference μ that Nash-MD's opponent samples from (Munos et al. 2024):
/// π^α(y|x) ∝ μ(y|x)^α · π(y|x)^(1−α), token by token, i.e. log_softmax(α·ref_logits + (1 − α)·policy_logits) as TRL's
/// GeometricMixtureWrapper computes it; sampling settings (temperature, top-k/p) then apply to the mixed logits.
/// </summary>
/// <param name="Reference">μ, run beside the policy with a cache of its own.</param>
/// <param name="Coefficient">α, the reference's weight (TRL's mixture_coef; 0 = the policy itself, 1 = the reference).</param>
public sealed record GeometricMixture(CausalLanguageModel Reference, float Coefficient)
{
    /// <summary>Replaces each row of <paramref name="policy"/> [rows·vocab] by log_softmax(α·reference + (1 − α)·policy).</summary>
    public void Mix(Span<float> policy, ReadOnlySpan<float> reference, int vocab)
    {
        if (Coefficient is < 0 or > 1 || float.IsNaN(Coefficient)) throw new ArgumentOutOfRangeException(nameof(Coefficient), Coefficient, "mixture_coef must be in [0, 1].");
        if (policy.Length != reference.Length || policy.Length % vocab != 0)
            throw new ArgumentException($"geometric mixture: {policy.Length} policy and {reference.Length} reference logits in rows of {vocab}.");
        for (int row = 0; row < policy.Length; row += vocab)
        {
            var mixed = policy.Slice(row, vocab);
            TensorPrimitives.Multiply(mixed, 1 - Coefficient, mixed);
            TensorPrimitives.MultiplyAdd(reference.Slice(row, vocab), Coefficient, mixed, mixed);
            float max = TensorPrimitives.Max(mixed);
            double sum = 0;
            foreach (float x in mixed) sum += Math.Exp(x - max);
            TensorPrimitives.Subtract(mixed, max + (float)Math.Log(sum), mixed);
        }
    }
}
