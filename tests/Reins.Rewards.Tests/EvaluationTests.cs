using Reins.Rewards.Evaluation;

namespace Reins.Rewards.Tests;

/// <summary>Pairwise accuracy per category, margin and calibration error on scores whose answers are worked out by hand.</summary>
public class EvaluationTests
{
    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Fact]
    public void AccuracyPerCategoryMarginAndEceOfConstructedScores()
    {
        // Differences r_c − r_r: 1, −0.5, 1, 0 (a tie counts as wrong, as RewardBench), 0.2.
        float[] chosen = [2f, 0.5f, -1f, 3f, 0f];
        float[] rejected = [1f, 1f, -2f, 3f, -0.2f];
        string?[] categories = ["chat", "chat", "safety", "safety", null];
        var result = PairwiseEvaluation.Compute(chosen, rejected, categories);

        Assert.Equal(5, result.Pairs);
        Assert.Equal(0.6, result.Accuracy, 12);
        Assert.Equal(new Dictionary<string, double> { ["chat"] = 0.5, ["safety"] = 0.5 }, result.CategoryAccuracy);
        Assert.Equal((1 - 0.5 + 1 + 0 + 0.2) / 5, result.Margin, 6);
        Assert.Equal((2 + 0.5 - 1 + 3 + 0) / 5.0, result.RewardsChosen, 6);

        // Confidence in the favoured side, max(σ(d), 1 − σ(d)), binned by tenths ((m−1)/10, m/10]:
        // 0.731 (right) ×2 in (0.7, 0.8]; 0.622 (wrong) in (0.6, 0.7]; 0.5 (wrong) in (0.4, 0.5]; 0.550 (right) in (0.5, 0.6].
        double expected = 2.0 / 5 * Math.Abs(1 - Sigmoid(1)) + 1.0 / 5 * Math.Abs(0 - (1 - Sigmoid(-0.5)))
            + 1.0 / 5 * Math.Abs(0 - 0.5) + 1.0 / 5 * Math.Abs(1 - Sigmoid(0.2000000030));
        Assert.Equal(expected, result.Ece, 6);

        var metrics = result.ToMetrics();
        Assert.Equal(0.5, metrics["accuracy/chat"]);
        Assert.Equal(result.Ece, metrics["ece"]);
        Assert.False(metrics.ContainsKey("accuracy/"));
    }

    [Fact]
    public void EceIsZeroWhenConfidenceMatchesFrequencyAndFullWhenConfidentlyWrong()
    {
        // Ten predictions at confidence 0.8, eight of them right: perfectly calibrated.
        var confidence = Enumerable.Repeat(0.8, 10).ToArray();
        var correct = Enumerable.Range(0, 10).Select(i => i < 8).ToArray();
        Assert.Equal(0, ExpectedCalibrationError.Compute(confidence, correct), 12);
        // Sure and always wrong.
        Assert.Equal(0.95, ExpectedCalibrationError.Compute([0.95, 0.95], [false, false]), 12);
        // Two bins: 0.55 right (gap 0.45) and 0.95 right twice (gap 0.05 each).
        Assert.Equal((0.45 + 0.05 + 0.05) / 3, ExpectedCalibrationError.Compute([0.55, 0.95, 0.95], [true, true, true]), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => ExpectedCalibrationError.Compute([1.5], [true]));
    }

    [Fact]
    public void MismatchedInputsAreErrors()
    {
        Assert.Throws<ArgumentException>(() => PairwiseEvaluation.Compute([1f, 2f], [1f]));
        Assert.Throws<ArgumentException>(() => PairwiseEvaluation.Compute([1f], [0f], ["a", "b"]));
    }
}
