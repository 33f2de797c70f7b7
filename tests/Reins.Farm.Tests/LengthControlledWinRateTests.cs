using Reins.Farm.Evaluation;
using Reins.Feedback.Annotators;
using Reins.Tensors;

namespace Reins.Farm.Tests;

public sealed class LengthControlledWinRateTests
{
    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Fact]
    public void RemovesAPureLengthEffect()
    {
        // The judge cares only about length; the "model" writes longer answers than the baseline on most prompts but
        // is no better. Raw win-rate rewards the verbosity; the length-controlled one should not.
        var judge = new AnnotatorPool([new AnnotatorProfile(1, LengthBias: 0.4)], (_, _) => 0, seed: 1);
        var rng = new Rng(2);
        int n = 3000;
        var prompts = new string[n];
        var model = new string[n];
        var baseline = new string[n];
        var deltas = new double[n];
        for (int i = 0; i < n; i++)
        {
            int baseWords = 2 + rng.NextInt(8), delta = rng.NextInt(9) - 2;
            prompts[i] = "p";
            baseline[i] = string.Join(' ', Enumerable.Repeat("w", baseWords));
            model[i] = string.Join(' ', Enumerable.Repeat("v", baseWords + delta));
            deltas[i] = delta;
        }
        var outcomes = WinRate.Judge(judge, prompts, model, baseline, seed: 3);
        var lc = LengthControlledWinRate.Fit(outcomes, deltas);
        Assert.True(WinRate.Of(outcomes) > 0.65, $"raw win-rate {WinRate.Of(outcomes)}");
        Assert.InRange(lc.WinRate, 0.45, 0.55);
        Assert.True(lc.Phi > 1);
    }

    [Fact]
    public void KeepsARealQualityDifference()
    {
        // The model is better by one gold unit and its lengths are distributed like the baseline's. LC should report
        // what the judge gives at equal lengths, σ(Δgold / T) = σ(1) ≈ 0.73; the raw rate averages σ(1 + 0.4·Δwords)
        // over Δ, which the curvature of σ pulls lower.
        var judge = new AnnotatorPool([new AnnotatorProfile(1, LengthBias: 0.4)], (_, r) => r.StartsWith('v') ? 1 : 0, seed: 1);
        var rng = new Rng(4);
        int n = 3000;
        var baseline = new string[n];
        var model = new string[n];
        var deltas = new double[n];
        for (int i = 0; i < n; i++)
        {
            int a = 2 + rng.NextInt(8), b = 2 + rng.NextInt(8);
            model[i] = string.Join(' ', Enumerable.Repeat("v", a));
            baseline[i] = string.Join(' ', Enumerable.Repeat("w", b));
            deltas[i] = a - b;
        }
        var outcomes = WinRate.Judge(judge, Enumerable.Repeat("p", n).ToArray(), model, baseline, seed: 5);
        var lc = LengthControlledWinRate.Fit(outcomes, deltas);
        Assert.InRange(WinRate.Of(outcomes), 0.65, Sigmoid(1));
        Assert.Equal(Sigmoid(1), lc.WinRate, 0.02);
    }

    [Fact]
    public void RecoversTheGlmCoefficientsFromExactProbabilities()
    {
        // Fractional targets equal to the model's own probabilities make the GLM's coefficients the exact optimum.
        var rng = new Rng(6);
        int n = 2000;
        var deltas = Enumerable.Range(0, n).Select(_ => (double)(rng.NextInt(21) - 6)).ToArray();
        var gamma = Enumerable.Range(0, n).Select(_ => (double)rng.NextNormal()).ToArray();
        double std = Math.Sqrt(deltas.Sum(d => Math.Pow(d - deltas.Average(), 2)) / (n - 1));
        var y = Enumerable.Range(0, n).Select(i => Sigmoid(0.4 + 1.2 * Math.Tanh(deltas[i] / std) - 0.7 * gamma[i])).ToArray();
        var fit = LengthControlledWinRate.Fit(y, deltas, gamma);
        Assert.Equal(0.4, fit.Theta, 3);
        Assert.Equal(1.2, fit.Phi, 3);
        Assert.Equal(-0.7, fit.Psi, 3);
        Assert.Equal(Enumerable.Range(0, n).Average(i => Sigmoid(0.4 - 0.7 * gamma[i])), fit.WinRate, 4);
        // Without the difficulty column the length term is still separated from θ.
        var simple = Enumerable.Range(0, n).Select(i => Sigmoid(-0.3 + 0.8 * Math.Tanh(deltas[i] / std))).ToArray();
        var simplified = LengthControlledWinRate.Fit(simple, deltas);
        Assert.Equal((-0.3, 0.8, 0.0), (Math.Round(simplified.Theta, 3), Math.Round(simplified.Phi, 3), simplified.Psi));
        Assert.Equal(Sigmoid(-0.3), simplified.WinRate, 3);
    }

    [Fact]
    public void StaysFiniteWhenEveryComparisonIsWonAndWhenLengthsAreEqual()
    {
        var allWins = LengthControlledWinRate.Fit(Enumerable.Repeat(1.0, 50).ToArray(), Enumerable.Repeat(3.0, 50).ToArray());
        Assert.True(double.IsFinite(allWins.Theta));
        Assert.InRange(allWins.WinRate, 0.99, 1.0);
        var ties = LengthControlledWinRate.Fit(Enumerable.Repeat(0.5, 10).ToArray(), Enumerable.Repeat(0.0, 10).ToArray());
        Assert.Equal(0.5, ties.WinRate, 9);
        Assert.Throws<ArgumentException>(() => LengthControlledWinRate.Fit([1.0], [1.0, 2.0]));
    }

    [Fact]
    public void InstructionDifficultyIsTheCentredLogOddsOfTheOtherMethodsWinning()
    {
        double[][] others = [[1, 0, 1], [1, 0, 0.5]];
        var gamma = LengthControlledWinRate.InstructionDifficulty(others);
        Assert.Equal(0, gamma.Sum(), 12);
        Assert.True(gamma[0] > gamma[2] && gamma[2] > gamma[1]);
        Assert.Equal(Math.Log(2.5 / 0.5) - Math.Log(0.5 / 2.5), gamma[0] - gamma[1], 12);
    }
}
