using System.Text.Json.Nodes;
using Reins.Alignment.Objectives;
using Reins.Tensors;

namespace Reins.Alignment.Tests;

/// <summary>Safe RLHF's cost-model loss against an independent PyTorch implementation (tools/make_cost_loss_fixtures.py), and its zero point.</summary>
public class CostModelLossTests
{
    private static readonly JsonNode Fixture = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf("cost_model_loss.json")))!;

    private static float[] Floats(string key) => [.. Fixture[key]!.AsArray().Select(x => (float)x!.GetValue<double>())];

    private static void Close(double want, double got, string what) => Assert.True(Math.Abs(got - want) <= 1e-6 + 1e-5 * Math.Abs(want), $"{what}: {got} vs PyTorch {want}");

    [Fact]
    public void PairwiseAndSingleLossesAndGradientsMatchPyTorch()
    {
        var higher = Tensor.Parameter("h", Tensor.FromArray(Floats("higher"), 6));
        var lower = Tensor.Parameter("l", Tensor.FromArray(Floats("lower"), 6));
        var single = Tensor.Parameter("c", Tensor.FromArray(Floats("single"), 6));
        using (var tape = new Tape())
        {
            var loss = CostModelLoss.Pairwise(higher, lower, Floats("higher_sign"), Floats("lower_sign"), (float)Fixture["regularization"]!.GetValue<double>());
            Close(Fixture["pairwise_loss"]!.GetValue<double>(), loss.Item(), "pairwise loss");
            tape.Backward(loss);
        }
        using (var tape = new Tape())
        {
            var loss = CostModelLoss.Single(single, Floats("single_sign"));
            Close(Fixture["single_loss"]!.GetValue<double>(), loss.Item(), "single loss");
            tape.Backward(loss);
        }
        foreach (var (tensor, key) in new[] { (higher, "grad_higher"), (lower, "grad_lower"), (single, "grad_single") })
            for (int i = 0; i < 6; i++) Close(Floats(key)[i], tensor.Grad!.ToArray()[i], $"{key}[{i}]");
    }

    [Fact]
    public void TheSignTermsPinTheZero()
    {
        // Equal costs of 0: the ranking term is ln 2 and each sign term ln 2 as well, whatever the labels.
        var zero = Tensor.FromArray([0f], 1);
        Assert.Equal(3 * Math.Log(2), CostModelLoss.Pairwise(zero, zero, [1f], [-1f]).Item(), 5);
        // An unsafe response with a positive cost and a safe one with a negative cost lose less than the reverse.
        float right = CostModelLoss.Pairwise(Tensor.FromArray([2f], 1), Tensor.FromArray([-2f], 1), [1f], [-1f]).Item();
        float wrong = CostModelLoss.Pairwise(Tensor.FromArray([-2f], 1), Tensor.FromArray([2f], 1), [1f], [-1f]).Item();
        Assert.True(right < 0.5f && wrong > 4f, $"{right}, {wrong}");
        Assert.Equal((1f, -1f), (CostModelLoss.Sign(isSafe: false), CostModelLoss.Sign(isSafe: true)));
    }
}
