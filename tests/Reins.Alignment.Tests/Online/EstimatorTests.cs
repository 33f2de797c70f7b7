using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Tensors;

namespace Reins.Alignment.Tests.Online;

/// <summary>The advantage estimators, normalisers, KL controller, KL estimators and the clipped surrogate on numbers worked out by hand.</summary>
public class EstimatorTests
{
    private static void Near(float[] expected, float[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"[{i}]: expected {expected[i]}, got {actual[i]} (all: {string.Join(", ", actual)})");
    }

    [Fact]
    public void GaeMatchesAHandComputedExampleAndStopsAtEachRowsEnd()
    {
        // Row 0 (length 3), γ = 0.9, λ = 0.8: δ2 = 1 − 0.3 = 0.7; δ1 = 0.9·0.3 − 0.4 = −0.13, A1 = −0.13 + 0.72·0.7 = 0.374;
        // δ0 = 0.9·0.4 − 0.5 = −0.14, A0 = −0.14 + 0.72·0.374 = 0.12928. Returns = A + V.
        // Row 1 (length 2) has garbage past its end that must not leak in: δ1 = 2 − 0.2 = 1.8; δ0 = 1 + 0.9·0.2 − 0.1 = 1.08, A0 = 1.08 + 0.72·1.8 = 2.376.
        float[] rewards = [0, 0, 1, 1, 2, 99], values = [0.5f, 0.4f, 0.3f, 0.1f, 0.2f, 55];
        var (advantages, returns) = GeneralizedAdvantageEstimation.Compute(rewards, values, [3, 2], 3, 0.9f, 0.8f);
        Near([0.12928f, 0.374f, 0.7f, 2.376f, 1.8f, 0], advantages);
        Near([0.62928f, 0.774f, 1.0f, 2.476f, 2.0f, 0], returns);
    }

    [Fact]
    public void GaeWithLambdaOneAndNoCriticIsTheDiscountedReturn()
    {
        var (returns, _) = GeneralizedAdvantageEstimation.Compute([1, 2, 4], new float[3], [3], 3, 0.5f, 1f);
        Near([1 + 0.5f * 2 + 0.25f * 4, 2 + 0.5f * 4, 4], returns);
    }

    [Fact]
    public void WhiteningUsesOnlyTheMaskedEntries()
    {
        float[] values = [2, 4, 6, 100], mask = [1, 1, 1, 0];
        // Mean 4; unbiased variance (4 + 0 + 4)/2 = 4; biased 8/3.
        Near([-1, 0, 1, 0], MaskedStatistics.Whiten(values, mask), 1e-4);
        Near([3, 4, 5, 0], MaskedStatistics.Whiten(values, mask, shiftMean: false), 1e-4);
        float z = 2 / MathF.Sqrt(8f / 3);
        Near([-z, 0, z, 0], MaskedStatistics.Whiten(values, mask, unbiased: false), 1e-4);
        Assert.Equal(4, MaskedStatistics.Mean(values, mask), 6);
    }

    [Fact]
    public void AdaptiveKlControllerFollowsZieglerEtAl()
    {
        var kl = new AdaptiveKlController(0.1f, target: 6, horizon: 10000);
        kl.Update(9, 256);    // error 0.5 clipped to 0.2: β·(1 + 0.2·256/10000)
        Assert.Equal(0.1 * 1.00512, kl.Value, 6);
        kl.Update(6.6, 256);  // error 0.1, inside the clip
        Assert.Equal(0.1 * 1.00512 * 1.00256, kl.Value, 6);
        kl.Update(0, 256);    // error −1 clipped to −0.2
        Assert.Equal(0.1 * 1.00512 * 1.00256 * (1 - 0.00512), kl.Value, 6);
        var fixedKl = new FixedKlController(0.1f);
        fixedKl.Update(100, 256);
        Assert.Equal(0.1f, fixedKl.Value);
    }

    [Fact]
    public void ClippedTokensGetNoGradientInTheClippedDirectionOnly()
    {
        // ratio ρ and advantage A per token; ε_low = 0.2, ε_high = 0.28 (DAPO's clip-higher).
        float[] ratios = [1.5f, 0.5f, 1.0f, 0.5f, 1.5f, 1.25f], advantages = [1, -1, 1, 1, -1, 1];
        // d(Σℓ)/d log π = −ρ·A where the unclipped term is active, 0 where the clipped one is:
        //  ρ > 1 + ε with A > 0 and ρ < 1 − ε with A < 0 are clipped; ρ below the range with A > 0, or above it with
        //  A < 0, still pull (the pessimistic min keeps them); 1.25 is inside [0.8, 1.28].
        float[] expected = [0, 0, -1, -0.5f, 1.5f, -1.25f];
        float[] logProbs = [-1, -2, -0.5f, -3, -1, -2];
        var old = logProbs.Select((lp, i) => lp - MathF.Log(ratios[i])).ToArray();
        var x = Tensor.Parameter("logp", Tensor.FromArray(logProbs, 6));
        using var tape = new Tape();
        var (loss, stats) = ClippedSurrogate.Compute(x, old, advantages, 0.2f, 0.28f, [1, 1, 1, 1, 1, 1]);
        tape.Backward(Ops.Sum(loss));
        Near(expected, x.Grad!.ToArray(), 1e-5);
        Assert.Equal(2 / 6.0, stats.ClipFraction, 6);
        Assert.Equal(1 / 6.0, stats.LowClipFraction, 6);
        Assert.Equal(1 / 6.0, stats.HighClipFraction, 6);
    }

    [Fact]
    public void KlLossGradientsAreThoseTheDocsClaim()
    {
        // Over a categorical π = softmax(z), E_{y~π}[∇k(y)] for the k2 and k3 losses, enumerated exactly.
        float[] logits = [0.3f, -1.2f, 0.8f, 0.1f, -0.4f], reference = [0.1f, 0.2f, 0.3f, 0.25f, 0.15f];
        var pi = Softmax(logits);
        var refLog = reference.Select(p => MathF.Log(p)).ToArray();
        float[] Expected(KlEstimator estimator)
        {
            var z = Tensor.Parameter("z", Tensor.FromArray(logits, 1, 5));
            var mean = new float[5];
            for (int y = 0; y < 5; y++)
            {
                z.ZeroGrad();
                using var tape = new Tape();
                var logProb = Ops.TokenLogProbs(z, [y]);
                tape.Backward(Ops.Sum(KlPenalty.Loss(estimator, logProb, [refLog[y]])));
                for (int j = 0; j < 5; j++) mean[j] += pi[y] * z.Grad!.Span[j];
            }
            return mean;
        }
        // k3 → ∇_z KL(π_ref‖π) = π − π_ref (the forward KL).
        Near([.. pi.Select((p, j) => p - reference[j])], Expected(KlEstimator.K3), 1e-5);
        // k2 → ∇_z KL(π‖π_ref) = π ⊙ (log π − log π_ref − KL(π‖π_ref)) (the reverse KL).
        double reverse = pi.Select((p, j) => p * (MathF.Log(p) - refLog[j])).Sum();
        Near([.. pi.Select((p, j) => (float)(p * (MathF.Log(p) - refLog[j] - reverse)))], Expected(KlEstimator.K2), 1e-5);
        using var t = new Tape();
        Assert.Contains("zero", Assert.Throws<ArgumentException>(() => KlPenalty.Loss(KlEstimator.K1, Tensor.FromArray([-1f], 1), [-1f])).Message);
    }

    private static float[] Softmax(float[] z)
    {
        var e = z.Select(v => MathF.Exp(v)).ToArray();
        float sum = e.Sum();
        return [.. e.Select(v => v / sum)];
    }

    [Fact]
    public void KlEstimatorValues()
    {
        // log r = log π_ref − log π = −0.5.
        Assert.Equal(0.5f, KlPenalty.Value(KlEstimator.K1, -1, -1.5f), 6);
        Assert.Equal(0.125f, KlPenalty.Value(KlEstimator.K2, -1, -1.5f), 6);
        Assert.Equal(MathF.Exp(-0.5f) - 1 + 0.5f, KlPenalty.Value(KlEstimator.K3, -1, -1.5f), 6);
    }

    [Fact]
    public void GroupRelativeAdvantagesScaleByTheGroupsUnbiasedStd()
    {
        // Group 1: mean 0.25, std √((0.5625 + 3·0.0625)/3) = 0.5. Group 2 is flat: zero advantages, counted in frac_reward_zero_std.
        var (scaled, zeroStd) = GroupRelativeAdvantage.Compute([1, 0, 0, 0, 2, 2, 2, 2], 4, scale: true);
        Near([0.75f / 0.5001f, -0.25f / 0.5001f, -0.25f / 0.5001f, -0.25f / 0.5001f, 0, 0, 0, 0], scaled);
        Assert.Equal(0.5, zeroStd);
        var (centred, _) = GroupRelativeAdvantage.Compute([1, 0, 0, 0, 2, 2, 2, 2], 4, scale: false);
        Near([0.75f, -0.25f, -0.25f, -0.25f, 0, 0, 0, 0], centred);
    }

    [Theory]
    [InlineData(LossAggregation.Grpo, 2.5)]      // (mean(1, 3) + mean(2, 2, 2, 6)) / 2 = (2 + 3) / 2
    [InlineData(LossAggregation.Bnpo, 2.5)]      // micro-batch token means (4/2 and 12/4), averaged over the 2 accumulation steps
    [InlineData(LossAggregation.Dapo, 16 / 6.0)] // all 16 over the mini-batch's 6 tokens
    [InlineData(LossAggregation.DrGrpo, 1.0)]    // 16 / (2 sequences × max_completion_length 8)
    public void LossAggregationModes(LossAggregation mode, double expected)
    {
        // Two sequences of width 4 in two micro-batches: row 0 has 2 tokens with losses (1, 3), row 1 has 4 with (2, 2, 2, 6).
        var miniBatch = new MiniBatch(Rows: 2, Tokens: 6, AccumulationSteps: 2, MaxCompletionLength: 8);
        float[][] losses = [[1, 3, 50, 50], [2, 2, 2, 6]], masks = [[1, 1, 0, 0], [1, 1, 1, 1]];
        double total = 0;
        for (int micro = 0; micro < 2; micro++)
        {
            var w = TokenLossWeights.Of(mode, masks[micro], 1, 4, miniBatch);
            total += w.Zip(losses[micro], (a, b) => (double)a * b).Sum();
        }
        Assert.Equal(expected, total, 5);
    }

    [Fact]
    public void RlooBaselineIsTheMeanOfTheOthers()
    {
        // k = 4: r − (Σ − r)/3; k = 2 would give ±(r1 − r2). Each group's advantages sum to 0.
        Near([1 - 11 / 3f, 2 - 10 / 3f, 0, 4, 4, -4], [.. LeaveOneOutBaseline.Advantages([1, 2, 3, 6], 4), .. LeaveOneOutBaseline.Advantages([5, 1], 2)]);
    }
}
