using Reins.Alignment.RewardModeling;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.Ensembles;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Rewards.Tests;

/// <summary>Ensemble objectives (Coste et al. 2024) and ensemble training with seeds and bootstrap samples.</summary>
public class EnsembleTests
{
    public EnsembleTests() => Engine.Threads = 1;

    [Fact]
    public void MeanWorstCaseAndUncertaintyWeightedOnConstructedMemberRewards()
    {
        float[][] members = [[1f, 2f], [3f, -2f], [2f, 0f]];
        Assert.Equal([2f, 0f], RewardEnsemble.Aggregate(members, EnsembleAggregation.Mean, 0));
        Assert.Equal([1f, -2f], RewardEnsemble.Aggregate(members, EnsembleAggregation.WorstCase, 0));
        // Population variances: (1 + 1 + 0)/3 and (4 + 4 + 0)/3.
        var variance = RewardEnsemble.Variance(members);
        Assert.Equal(2.0 / 3, variance[0], 6);
        Assert.Equal(8.0 / 3, variance[1], 6);
        var uwo = RewardEnsemble.Aggregate(members, EnsembleAggregation.UncertaintyWeighted, 0.5f);
        Assert.Equal(2 - 0.5 * 2.0 / 3, uwo[0], 6);
        Assert.Equal(0 - 0.5 * 8.0 / 3, uwo[1], 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => RewardEnsemble.Aggregate(members, EnsembleAggregation.UncertaintyWeighted, -1));
    }

    [Fact]
    public void EachMemberIsStandardisedWithItsOwnStatisticsBeforeTheMinimumOrVariance()
    {
        // Statistics far apart, so standardising after aggregating (or not at all) would give other numbers.
        (float Mean, float Std)[] stats = [(0.5f, 2f), (-1f, 0.1f), (3f, 0.5f)];
        var members = stats.Select((s, i) => new RewardModel(
            CausalLanguageModel.Create(TinySetup.Config with { NumLabels = 1, PadTokenId = 258 }, seed: (ulong)(10 + i)),
            normalization: new RewardNormalization(["reward"], [s.Mean], [s.Std], 100))).ToArray();
        var ensemble = new RewardEnsemble(members);
        var tokenizer = new DatasetTokenizer(TinySetup.Encoder);
        var sequences = new[] { "ab", "cccc", "a", "dddddddd" }
            .Select(t => tokenizer.Sft(new PromptCompletionExample(TextOrConversation.FromText("q:"), TextOrConversation.FromText(t)))!).ToArray();

        var options = new RewardScoringOptions { BatchSize = 3 };
        var raw = members.Select(m => m.RawScores(sequences, 1)).ToArray();
        double Standardised(int member, int i) => (raw[member][i] - stats[member].Mean) / stats[member].Std;
        var worst = ensemble.Score(sequences, EnsembleAggregation.WorstCase, 0, options);
        var uwo = ensemble.Score(sequences, EnsembleAggregation.UncertaintyWeighted, 0.25f, options);
        for (int i = 0; i < sequences.Length; i++)
        {
            var z = Enumerable.Range(0, 3).Select(m => Standardised(m, i)).ToArray();
            double mean = z.Average(), variance = z.Average(v => (v - mean) * (v - mean));
            Assert.Equal(z.Min(), worst.Rewards[i], 3);
            Assert.Equal(mean - 0.25 * variance, uwo.Rewards[i], 2);
            Assert.Equal(variance, worst.Details["ensemble_variance"][i], 2);
            Assert.Equal(mean, worst.Details["ensemble_mean"][i], 3);
        }
        Assert.Throws<ArgumentException>(() => new RewardEnsemble([new RewardModel(members[0].Network)]));
    }

    [Fact]
    public void PlanGivesEachMemberItsSeedDirectoryAndBootstrapSample()
    {
        var config = TinySetup.Training("/tmp/ens").With(t => t with { Seed = 40 });
        var plan = RewardEnsembleTraining.Plan(config, trainCount: 50, members: 3, bootstrap: true);
        Assert.Equal([40UL, 41UL, 42UL], plan.Select(m => m.Config.Training.Seed));
        Assert.Equal(RewardEnsemble.MemberPath("/tmp/ens", 2), plan[2].Config.Training.OutputDir);
        foreach (var member in plan)
        {
            Assert.Equal(50, member.TrainIndices.Length);
            Assert.All(member.TrainIndices, i => Assert.InRange(i, 0, 49));
            // Drawn with replacement: about 1/e of the records are left out, so repeats are certain at n = 50.
            Assert.True(member.TrainIndices.Distinct().Count() < 45);
        }
        Assert.NotEqual(plan[0].TrainIndices, plan[1].TrainIndices);
        Assert.Equal(plan[1].TrainIndices, RewardEnsembleTraining.Plan(config, 50, 3, bootstrap: true)[1].TrainIndices);
        Assert.Equal(Enumerable.Range(0, 50), RewardEnsembleTraining.Plan(config, 50, 2, bootstrap: false)[1].TrainIndices);
    }

    [Fact]
    public void TrainedEnsembleDisagreesMoreOffTheTrainingDistribution()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", TinySetup.PreferenceLines(200, seed: 21));
        var root = dir.Path("ensemble");
        // Members as a deep ensemble (Lakshminarayanan et al.): each from its own random initialisation and bootstrap
        // sample, trained until they agree on the training distribution. Sharing one initialisation and stopping at 60
        // steps made the comparison a coin toss (off/in ratio 0.3-2.5 over six seeds); this way it was 1.2-2.8.
        foreach (var member in RewardEnsembleTraining.Plan(TinySetup.Training(root, steps: 200), train.Count, members: 3, bootstrap: true))
            new RewardTrainer(member.Config, TinySetup.LanguageModel(seed: member.Config.Training.Seed), TinySetup.Encoder, [.. member.TrainIndices.Select(i => train[i])], null, TinySetup.Tokenizer.Save).Train();

        var ensemble = RewardEnsemble.Load(root);
        Assert.Equal(3, ensemble.Members.Count);
        var rng = new Rng(22);
        ScoringRequest Request(string alphabet) => new(TinySetup.Prompt, TinySetup.RandomText(rng, alphabet, 4 + rng.NextInt(7)), [], [], true, new Dictionary<string, System.Text.Json.JsonElement>());
        var inDistribution = Enumerable.Range(0, 100).Select(_ => Request("abcde")).ToArray();
        var outOfDistribution = Enumerable.Range(0, 100).Select(_ => Request("VWXYZ0123")).ToArray();
        double MeanVariance(ScoringRequest[] requests) => ensemble.Score(
            ScoringTokenization.FromRequests(requests, TinySetup.Encoder, ensemble.MaxLength, useTokenIds: false),
            EnsembleAggregation.Mean, 0, new RewardScoringOptions()).Details["ensemble_variance"].Average(v => (double)v);
        double id = MeanVariance(inDistribution), ood = MeanVariance(outOfDistribution);
        Assert.True(ood > 1.5 * id, $"mean member variance off-distribution {ood:F4} is not well above in-distribution {id:F4}");

        // As a reward source, UWO penalises the off-distribution completions more.
        var source = new EnsembleRewardSource(ensemble, TinySetup.Encoder, EnsembleAggregation.UncertaintyWeighted, uncertaintyPenalty: 1);
        var mean = new EnsembleRewardSource(ensemble, TinySetup.Encoder, EnsembleAggregation.Mean);
        double Penalty(ScoringRequest[] requests) => mean.Score(requests).Zip(source.Score(requests), (m, u) => (double)m - u).Average();
        Assert.Equal(id, Penalty(inDistribution), 3);
        Assert.Equal(ood, Penalty(outOfDistribution), 3);
    }
}
