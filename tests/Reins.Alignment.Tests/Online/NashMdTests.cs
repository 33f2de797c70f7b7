using System.Text.Json.Nodes;
using Reins.Alignment.NashMd;
using Reins.Alignment.Objectives;
using Reins.Models.Generation;
using Reins.Rewards.Judges;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Alignment.Tests.Online;

/// <summary>Nash-MD: its loss and the opponent's geometric mixture against PyTorch, mixture sampling, and learning the copy task.</summary>
public class NashMdTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly JsonNode Fixture = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf("nash_md.json")))!;

    private static float[] Floats(string key) => [.. Fixture[key]!.AsArray().Select(x => (float)x!.GetValue<double>())];

    private static void Close(double want, double got, string what) => Assert.True(Math.Abs(got - want) <= 1e-6 + 1e-5 * Math.Abs(want), $"{what}: {got} vs PyTorch {want}");

    [Fact]
    public void LossAndMixtureMatchPyTorch()
    {
        int vocab = Fixture["vocab"]!.GetValue<int>();
        foreach (var (coefficient, expected) in Fixture["mixtures"]!.AsObject())
        {
            var mixed = Floats("policy_logits");
            new GeometricMixture(TinyTask.Model(), float.Parse(coefficient, System.Globalization.CultureInfo.InvariantCulture)).Mix(mixed, Floats("ref_logits"), vocab);
            var want = expected!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
            for (int i = 0; i < mixed.Length; i++) Close(want[i], mixed[i], $"mixture {coefficient} [{i}]");
        }

        int length = Fixture["completion_length"]!.GetValue<int>();
        var logp = Tensor.Parameter("logp", Tensor.FromArray(Floats("logp"), Floats("logp").Length));
        NashMdLossResult result;
        using (var tape = new Tape())
        {
            result = NashMdLoss.Compute(logp, Floats("ref"), Floats("probability"), length, (float)Fixture["beta"]!.GetValue<double>());
            Close(Fixture["loss"]!.GetValue<double>(), result.Loss.Item(), "loss");
            tape.Backward(result.Loss);
        }
        for (int i = 0; i < 3; i++)
        {
            Close(Floats("score")[i], result.Scores[i], $"score[{i}]");
            Close(Floats("kl")[i], result.Kl[i], $"kl[{i}]");
        }
        for (int i = 0; i < logp.Size; i++) Close(Floats("grad")[i], logp.Grad!.ToArray()[i], $"d loss/d logp[{i}]");
    }

    [Fact]
    public void TheMixtureSamplesThePolicyAtZeroAndTheReferenceAtOne()
    {
        var policy = TinyTask.Model(1);
        var reference = TinyTask.Model(2);
        int[][] prompts = [[TinyTask.Bos, 0], [TinyTask.Bos, 3]];
        var options = new SamplingOptions { MaxNewTokens = 6, NumReturnSequences = 3, Seed = 11 };
        int[][] Tokens(IReadOnlyList<GeneratedSequence> samples) => [.. samples.Select(s => s.Tokens)];
        Assert.Equal(Tokens(Generator.Generate(policy, prompts, options)), Tokens(Generator.Generate(policy, prompts, options, mixture: new GeometricMixture(reference, 0))));
        Assert.Equal(Tokens(Generator.Generate(reference, prompts, options)), Tokens(Generator.Generate(policy, prompts, options, mixture: new GeometricMixture(reference, 1))));
        var halfway = Tokens(Generator.Generate(policy, prompts, options, mixture: new GeometricMixture(reference, 0.5f)));
        Assert.NotEqual(Tokens(Generator.Generate(policy, prompts, options)), halfway);
        Assert.NotEqual(Tokens(Generator.Generate(reference, prompts, options)), halfway);
    }

    private static NashMdConfig Config(string dir, int steps) => new()
    {
        Training = new() { OutputDir = dir, MaxSteps = steps, LearningRate = 3e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 24, LoggingSteps = 1 },
        Online = new() { Sampling = new() { MaxCompletionLength = TinyTask.CompletionLength } },
        Beta = 0.05f,
    };

    /// <summary>P(first ≻ second) = σ(4·(copies₁ − copies₂)).</summary>
    private sealed class CopyJudge : IPairwiseJudge
    {
        public string Name => "copies";
        public float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default) =>
            [.. pairs.Select(p => 1f / (1f + MathF.Exp(-4 * TinyTask.CompletionLength * (TinyTask.Reward().Score([p.First])[0] - TinyTask.Reward().Score([p.Second])[0]))))];
    }

    [Fact]
    public void LearnsTheCopyTaskFromARewardOrAJudgeAndLogsTrlsMetrics()
    {
        using var scratch = new Scratch();
        var prompts = TinyTask.Prompts(string.Concat(Enumerable.Repeat("abcdef", 4)));
        // The copy reward in [0, 1] scaled by 8, so that σ(r − r′) separates one more copy about as the judge does.
        var scaled = new FunctionRewardSource("copy8", r => 8 * TinyTask.Reward().Score([r])[0]);
        foreach (var (name, judge) in new (string, IPairwiseJudge?)[] { ("judge", new CopyJudge()), ("reward", null) })
        {
            var policy = TinyTask.Model();
            new NashMdTrainer(Config(scratch.Dir(name), 150), policy, policy.Clone(), TinyTask.Inputs(judge is null ? scaled : TinyTask.Reward(), prompts), judge).Train();
            var rows = Scratch.Metrics(scratch.Dir(name));
            double Mean(Range range, string key) => rows[range].Average(r => r[key]!.GetValue<double>());
            double scale = judge is null ? 8 : 1;
            output.WriteLine($"nash-md ({name}): copy reward {Mean(..10, "reward") / scale:F3} → {Mean(^10.., "reward") / scale:F3}, P(y ≻ y′) {Mean(..10, "rewards/probabilities"):F3} → {Mean(^10.., "rewards/probabilities"):F3}");
            Assert.True(Mean(^10.., "reward") / scale > Mean(..10, "reward") / scale + 0.25, $"{name}: copy reward {Mean(..10, "reward") / scale:F3} → {Mean(^10.., "reward") / scale:F3}");
            // The policy comes to beat the mixture that still leans on the reference.
            Assert.True(Mean(^10.., "rewards/probabilities") > 0.55, $"{name}: P(y ≻ y′) {Mean(^10.., "rewards/probabilities"):F3}");
            string[] names = ["loss/kl", "loss/score", "objective/entropy", "rewards/probabilities", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected",
                "val/model_contain_eos_token", "val/ref_contain_eos_token", "beta", "mixture_coef", "objective/kl"];
            foreach (var key in names.Concat(judge is null ? ["rewards/chosen", "rewards/rejected"] : []))
                Assert.True(rows[0].ContainsKey(key), $"{name}: metrics.jsonl lacks {key}");
            Assert.Equal(0.5, rows[0]["mixture_coef"]!.GetValue<double>());
        }
        Assert.Contains("mixture_coef", Assert.Throws<ArgumentException>(() => (Config(scratch.Dir("bad"), 1) with { MixtureCoef = 1.5f }).Validate()).Message);
    }
}
