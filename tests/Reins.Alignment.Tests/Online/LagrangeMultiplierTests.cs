using System.Text.Json.Nodes;
using Reins.Alignment.Online;

namespace Reins.Alignment.Tests.Online;

/// <summary>Safe RLHF's Lagrange multiplier against an independent PyTorch implementation (tools/make_lagrange_fixtures.py), and its checkpoint.</summary>
public class LagrangeMultiplierTests
{
    private static readonly JsonNode Fixture = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf("lagrange.json")))!;

    private static CostConstraintSettings Settings()
    {
        var s = Fixture["settings"]!;
        return new CostConstraintSettings
        {
            Threshold = (float)s["threshold"]!.GetValue<double>(), LambdaInit = (float)s["lambda_init"]!.GetValue<double>(), LambdaLr = (float)s["lambda_lr"]!.GetValue<double>(),
            LambdaMax = (float)s["lambda_max"]!.GetValue<double>(), LambdaUpdateDelaySteps = s["lambda_update_delay_steps"]!.GetValue<int>(),
            EpisodeCostWindowSize = s["episode_cost_window_size"]!.GetValue<int>(),
        };
    }

    private static double[][] Steps() => [.. Fixture["steps"]!.AsArray().Select(step => step!.AsArray().Select(c => c!.GetValue<double>()).ToArray())];

    [Fact]
    public void LambdaFollowsPyTorchsSgdUpWhileViolatedAndDownAfter()
    {
        var multiplier = new LagrangeMultiplier(Settings());
        var expected = Fixture["lambdas"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        var steps = Steps();
        for (int step = 0; step < steps.Length; step++)
        {
            multiplier.Update(step, steps[step]);
            Assert.Equal(expected[step], multiplier.Lambda, 6);
        }
        // It rose to its cap while the costs were above the threshold, then fell once they were below it.
        Assert.Equal(3.0, expected.Max(), 6);
        Assert.True(expected[^1] < expected[3]);
        float[] Floats(string key) => [.. Fixture[key]!.AsArray().Select(x => (float)x!.GetValue<double>())];
        var advantages = multiplier.Advantages(Floats("reward_advantages"), Floats("cost_advantages"));
        Assert.All(advantages.Zip(Floats("advantages")), p => Assert.Equal(p.Second, p.First, 5));
    }

    [Fact]
    public void HcRlhfsPessimisticBoundFollowsPyTorchAndScipy()
    {
        var hc = Fixture["hc_rlhf"]!;
        var s = hc["settings"]!;
        var settings = Settings() with
        {
            Threshold = (float)s["threshold"]!.GetValue<double>(), LambdaMax = (float)s["lambda_max"]!.GetValue<double>(),
            SafetyDelta = (float)s["safety_delta"]!.GetValue<double>(), SafetyTestSize = s["safety_test_size"]!.GetValue<int>(),
            StudentsC1 = (float)s["students_c1"]!.GetValue<double>(), StudentsC2 = (float)s["students_c2"]!.GetValue<double>(),
        };
        double[] Doubles(string key) => [.. hc[key]!.AsArray().Select(x => x!.GetValue<double>())];
        var (lambdas, bounds) = (Doubles("lambdas"), Doubles("bounds"));
        var multiplier = new LagrangeMultiplier(settings);
        var plain = new LagrangeMultiplier(settings with { SafetyDelta = null });
        var steps = Steps();
        var plainLambdas = new double[steps.Length];
        for (int step = 0; step < steps.Length; step++)
        {
            multiplier.Update(step, steps[step]);
            plain.Update(step, steps[step]);
            plainLambdas[step] = plain.Lambda;
            Assert.Equal(bounds[step], multiplier.ConstrainedCost, 5);
            Assert.Equal(lambdas[step], multiplier.Lambda, 4);
        }
        // Step 5's costs bring the window's mean under the threshold but not its bound: Safe RLHF's λ falls, HC-RLHF's stays at its cap.
        Assert.True(plainLambdas[5] < plainLambdas[4], $"plain λ {plainLambdas[4]} → {plainLambdas[5]}");
        Assert.Equal(settings.LambdaMax, lambdas[5], 4);
        var policyCosts = multiplier.PolicyCosts([.. steps[^1].Select(c => (float)c)]);
        Assert.All(Doubles("policy_costs").Zip(policyCosts), p => Assert.Equal(p.First, p.Second, 4));
        Assert.Equal(steps[^1].Select(c => (float)c), plain.PolicyCosts([.. steps[^1].Select(c => (float)c)]));
    }

    [Fact]
    public void ACheckpointResumesTheSameTrajectory()
    {
        var steps = Steps();
        var whole = new LagrangeMultiplier(Settings());
        var first = new LagrangeMultiplier(Settings());
        var dir = Directory.CreateTempSubdirectory("reins-lagrange-").FullName;
        try
        {
            for (int step = 0; step < steps.Length; step++) whole.Update(step, steps[step]);
            for (int step = 0; step < 4; step++) first.Update(step, steps[step]);
            first.Save(dir);
            var resumed = new LagrangeMultiplier(Settings());
            resumed.Restore(dir);
            for (int step = 4; step < steps.Length; step++) resumed.Update(step, steps[step]);
            Assert.Equal(whole.Lambda, resumed.Lambda);
            Assert.Equal(whole.EpisodeCost, resumed.EpisodeCost);
        }
        finally { Directory.Delete(dir, recursive: true); }
        Assert.Throws<ArgumentException>(() => new CostConstraintSettings { LambdaInit = 0 }.Validate());
    }
}
