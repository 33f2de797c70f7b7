using System.Text.Json.Nodes;
using Reins.Alignment.Objectives;
using Reins.Tensors;

namespace Reins.Alignment.Tests;

/// <summary>
/// Critique-GRPO's per-token loss (the clipped surrogate on the policy's own tokens, policy shaping on refinement tokens)
/// against an independent PyTorch implementation (tools/make_policy_loss_fixtures.py), a finite-difference check of the
/// shaping term, and the invariant that marking no token off-policy leaves the GRPO loss as it was.
/// </summary>
public class CritiqueGrpoLossTests
{
    private static readonly JsonNode Fixture = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf("critique_grpo_loss.json")))!;

    private static float[] Floats(string key) => [.. Fixture[key]!.AsArray().Select(x => (float)x!.GetValue<double>())];

    private static (Tensor Loss, Tensor LogProbs) Loss(float[]? offPolicy)
    {
        var logProbs = Tensor.Parameter("logp", Tensor.FromArray(Floats("log_probs"), Floats("log_probs").Length));
        var mask = Floats("mask");
        float kept = mask.Sum();
        float eps = (float)Fixture["epsilon"]!.GetValue<double>();
        var settings = new PolicyLossSettings(eps, eps, null, 0, LossAggregation.Bnpo, (float)Fixture["gamma"]!.GetValue<double>());
        var (loss, _) = PolicyGradientLoss.Compute(logProbs, Tensor.Zeros(mask.Length, 3), 1f, Floats("old_log_probs"), Floats("advantages"), null, 0,
            mask, [.. mask.Select(m => m / kept)], settings, offPolicy);
        return (loss, logProbs);
    }

    [Fact]
    public void LossAndGradientMatchPyTorch()
    {
        using var tape = new Tape();
        var (loss, logProbs) = Loss(Floats("off_policy"));
        double want = Fixture["loss"]!.GetValue<double>();
        Assert.True(Math.Abs(loss.Item() - want) <= 1e-6 + 1e-5 * Math.Abs(want), $"loss {loss.Item()} vs PyTorch {want}");
        tape.Backward(loss);
        var grad = logProbs.Grad!.ToArray();
        var expected = Floats("grad");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(grad[i] - expected[i]) <= 1e-6 + 1e-4 * Math.Abs(expected[i]), $"d/dlogp[{i}] = {grad[i]}, PyTorch {expected[i]}");
    }

    [Fact]
    public void TheShapingGradientMatchesFiniteDifferences()
    {
        float[] logp = [-0.1f, -1.2f, -2.3f, -4f], advantages = [1f, -0.5f, 2f, -1f];
        const float gamma = 0.1f, h = 1e-3f;
        var x = Tensor.Parameter("x", Tensor.FromArray(logp, 4));
        using (var tape = new Tape()) tape.Backward(Ops.Sum(PolicyShaping.Loss(x, advantages, gamma)));
        for (int i = 0; i < 4; i++)
        {
            double F(float v) { var y = (float[])logp.Clone(); y[i] = v; using var _ = Tape.NoGrad(); return PolicyShaping.Loss(Tensor.FromArray(y, 4), advantages, gamma).ToArray()[i]; }
            double numeric = (F(logp[i] + h) - F(logp[i] - h)) / (2 * h);
            Assert.True(Math.Abs(x.Grad!.ToArray()[i] - numeric) <= 1e-3 * Math.Max(1, Math.Abs(numeric)), $"token {i}: {x.Grad!.ToArray()[i]} vs {numeric}");
        }
        // The gradient's size in log p peaks where p = γ.
        double Size(float p) { var t = Tensor.Parameter("p", Tensor.FromArray([MathF.Log(p)], 1)); using (var tape = new Tape()) tape.Backward(Ops.Sum(PolicyShaping.Loss(t, [1f], gamma))); return Math.Abs(t.Grad!.ToArray()[0]); }
        Assert.True(Size(gamma) > Size(gamma / 4) && Size(gamma) > Size(gamma * 4));
    }

    [Fact]
    public void NoOffPolicyTokenLeavesTheGrpoLoss()
    {
        using var tape = new Tape();
        Assert.Equal(Loss(null).Loss.Item(), Loss(new float[Floats("mask").Length]).Loss.Item());
    }
}
