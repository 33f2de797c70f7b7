using Reins.Alignment.Training;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.Tests;

/// <summary>An optimiser step over several trained models whose loss comes in terms (PPO's policy, then its critics).</summary>
public class TrainableModelTests
{
    private static readonly ModelInput Input = new([5, 9, 2, 7, 1, 3, 8, 4], 2, 4);

    private static TrainableModel[] Parts() =>
    [
        new(CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 12, hidden: 8, layers: 1, heads: 2, maxPositions: 8), seed: 1), new TrainingArguments(), 1e-2f),
        new(CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 12, hidden: 8, layers: 1, heads: 2, maxPositions: 8) with { NumLabels = 1 }, seed: 2), new TrainingArguments(), 1e-2f, "critic/grad_norm", "critic"),
    ];

    private static Tensor PolicyLoss(TrainableModel[] parts) => parts[0].Model.Loss(Input, [9, 2, 7, 1, 3, 8, 4, 6]);

    private static Tensor ValueLoss(TrainableModel[] parts)
    {
        var values = parts[1].Model.ScoresAllPositions(Input);
        return Ops.Mean(values * values);
    }

    [Fact]
    public void ATermRunsAfterTheLastOnesBackwardAndTheStepIsThatOfTheSummedLoss()
    {
        var summed = Parts();
        var (summedOutputs, summedNorms, _) = TrainableModel.Step(summed, 2, _ =>
            new StepOutput(PolicyLoss(summed) + ValueLoss(summed), new Dictionary<string, double> { ["a"] = 1, ["b"] = 2 }), 1f, 1f);

        var inTerms = Parts();
        Tensor? firstLoss = null;
        int secondTerms = 0;
        var (outputs, norms, _) = TrainableModel.Step(inTerms, 2, _ =>
        {
            firstLoss = PolicyLoss(inTerms);
            return new StepOutput(firstLoss, new Dictionary<string, double> { ["a"] = 1 })
            {
                Next = () =>
                {
                    // The first term's backward has run and its tape has released what it recorded.
                    Assert.NotNull(inTerms[0].Model.TrainableParameters.First().Grad);
                    Assert.Throws<ObjectDisposedException>(() => firstLoss.Item());
                    secondTerms++;
                    return new StepOutput(ValueLoss(inTerms), new Dictionary<string, double> { ["b"] = 2 });
                },
            };
        }, 1f, 1f);

        Assert.Equal(2, secondTerms);
        Assert.Equal(summedOutputs.Select(o => o.Loss), outputs.Select(o => o.Loss));
        Assert.All(outputs, o => Assert.Equal(new Dictionary<string, double> { ["a"] = 1, ["b"] = 2 }, o.Metrics));
        Assert.Equal(summedNorms, norms);
        for (int p = 0; p < 2; p++)
            foreach (var (a, b) in summed[p].Model.Parameters.Zip(inTerms[p].Model.Parameters))
                Assert.Equal(a.ToArray(), b.ToArray());
    }
}
