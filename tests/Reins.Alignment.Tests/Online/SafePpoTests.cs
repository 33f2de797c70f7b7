using System.Text.Json.Nodes;
using Reins.Alignment.Online;
using Reins.Alignment.Ppo;
using Reins.Models.Generation;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Tests.Online;

/// <summary>
/// Safe RLHF's PPO-Lagrangian: its advantage stage against an independent PyTorch implementation
/// (tools/make_safe_ppo_fixtures.py), and on the tiny task whose cost is known (reward for the letters a and c alike,
/// cost for c: share of c − ¼) the Lagrangian ends below the threshold where reward-only PPO ends above it, λ rising
/// while the constraint is violated and falling after; a resumed run continues exactly, cost critic and λ included.
/// </summary>
public class SafePpoTests
{
    private static readonly JsonNode Fixture = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf("safe_ppo.json")))!;

    private static float[] Floats(string key) => [.. Fixture[key]!.AsArray().Select(x => (float)x!.GetValue<double>())];

    private static float Share(ScoringRequest r, Func<char, bool> which) => r.Completion.Take(TinyTask.CompletionLength).Count(which) / (float)TinyTask.CompletionLength;

    [Fact]
    public void TheAdvantageStageMatchesPyTorch()
    {
        int[] lengths = [.. Fixture["lengths"]!.AsArray().Select(x => x!.GetValue<int>())];
        int width = Fixture["width"]!.GetValue<int>();
        var logProbs = Floats("logprobs");
        // Rows of the fixture's lengths: the full-width one never stopped, the others ended with EOS.
        var samples = lengths.Select((n, r) => new GeneratedSequence(r, 0, [TinyTask.Bos, r], [.. Enumerable.Range(0, n).Select(t => t == n - 1 && n < width ? TinyTask.Eos : t % 4)],
            logProbs.AsSpan(r * width, n).ToArray(), n < width ? FinishReason.Stop : FinishReason.Length)).ToList();
        var rollout = Rollout.FromSamples(samples, 1, TinyTask.Pad);
        Assert.Equal(width, rollout.CompletionLength);
        var scored = new ScoredRollout(rollout, Floats("scores"), [], []);
        float beta = (float)Fixture["beta"]!.GetValue<double>();
        var evaluated = new EvaluatedRollout(scored, Floats("ref_logprobs"), [Floats("reward_values"), Floats("cost_values")], beta);
        var config = new PpoConfig { Gamma = (float)Fixture["gamma"]!.GetValue<double>(), Lam = (float)Fixture["lam"]!.GetValue<double>() };
        var multiplier = new LagrangeMultiplier(new CostConstraintSettings { LambdaInit = (float)Fixture["lambda"]!.GetValue<double>(), LambdaMax = 10 });
        var metrics = new Dictionary<string, double>();

        var batch = PpoTrainer.TokenAdvantages(config, evaluated, scored.Scores, (Floats("costs"), multiplier), metrics);

        void Near(float[] expected, float[] actual, double tolerance, string what) =>
            Assert.All(expected.Zip(actual), (p, i) => Assert.True(Math.Abs(p.First - p.Second) <= tolerance, $"{what}[{i}]: PyTorch {p.First}, Reins {p.Second}"));
        Near(Floats("reward_returns"), batch.Returns![0], 1e-5, "reward returns");
        Near(Floats("cost_returns"), batch.Returns![1], 1e-5, "cost returns");
        Near(Floats("advantages"), batch.Advantages, 1e-4, "advantages");
        Assert.Equal(Fixture["non_score_reward"]!.GetValue<double>(), metrics["objective/non_score_reward"], 5);
    }

    private static List<JsonObject> Run(Scratch scratch, string name, IRewardSource? cost, CostConstraintSettings settings, int steps = 200, int save = 0)
    {
        var config = new PpoConfig
        {
            Training = new() { OutputDir = scratch.Dir(name), MaxSteps = steps, SaveSteps = save, LearningRate = 2e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 6, LoggingSteps = steps < 10 ? 1 : 10 },
            Online = new() { Sampling = new() { MaxCompletionLength = TinyTask.CompletionLength }, NumMiniBatches = 2 },
            NumPpoEpochs = 2,
            KlCoef = 0.01f,
            Cost = settings,
        };
        var policy = TinyTask.Model();
        var reward = new FunctionRewardSource("ac", r => Share(r, c => c is 'a' or 'c'));
        new PpoTrainer(config, policy, policy.Clone(), PpoTrainer.CriticFromPolicy(policy, seed: 2), TinyTask.Inputs(reward, TinyTask.Prompts("abcdefabcdef")),
            cost, cost is null ? null : PpoTrainer.CriticFromPolicy(policy, seed: 3)).Train(resume: save > 0 && Directory.Exists(config.Training.OutputDir));
        return Scratch.Metrics(config.Training.OutputDir);
    }

    private static readonly FunctionRewardSource Cost = new("cost", r => Share(r, c => c == 'c') - 0.25f);

    [Fact]
    public void TheLagrangianKeepsTheCostUnderTheThresholdWhereRewardAloneDoesNot()
    {
        using var scratch = new Scratch();
        // λ pinned near 0 (no learning rate): the reward alone decides, with the cost still logged.
        var unconstrained = Run(scratch, "reward-only", Cost, new CostConstraintSettings { LambdaInit = 1e-6f, LambdaLr = 0, LambdaMax = 1e-6f });
        var safe = Run(scratch, "safe", Cost, new CostConstraintSettings { Threshold = 0, LambdaInit = 0.1f, LambdaLr = 0.5f, LambdaMax = 10, EpisodeCostWindowSize = 24 });
        double Final(List<JsonObject> rows, string key) => rows.TakeLast(3).Average(r => r[key]!.GetValue<double>());
        string Trace(List<JsonObject> rows) => string.Join(", ", rows.Select(r => $"{r["objective/cost"]!.GetValue<double>():F2}/{r["objective/reward"]!.GetValue<double>():F2}"));
        Assert.True(Final(unconstrained, "objective/cost") > 0, $"reward-only cost/reward {Trace(unconstrained)}");
        Assert.True(Final(safe, "objective/cost") < 0, $"safe cost/reward {Trace(safe)}");
        Assert.True(Final(safe, "objective/reward") > 0.5, $"safe cost/reward {Trace(safe)}");
        var lambdas = safe.Select(r => r["lagrange/lambda"]!.GetValue<double>()).ToArray();
        int peak = Array.IndexOf(lambdas, lambdas.Max());
        Assert.True(lambdas[peak] > 0.1 && peak < lambdas.Length - 1 && lambdas[^1] < lambdas[peak], string.Join(", ", lambdas.Select(l => l.ToString("F3"))));
        Assert.All(safe, r => Assert.True(double.IsFinite(r["loss/cost_value_avg"]!.GetValue<double>()) && double.IsFinite(r["val/cost_grad_norm"]!.GetValue<double>())));
    }

    [Fact]
    public void SafetyDeltaTrainsAgainstThePessimisticBound()
    {
        using var scratch = new Scratch();
        // The same samples at step 1 (same seed): HC-RLHF's λ sees the bound above the window's mean, so it rises
        // further, and the cost critic learns the bound's per-response costs, so its loss differs.
        var settings = new CostConstraintSettings { Threshold = 0, LambdaLr = 0.5f, EpisodeCostWindowSize = 24 };
        var plain = Run(scratch, "plain", Cost, settings, steps: 1)[0];
        var pessimistic = Run(scratch, "pessimistic", Cost, settings with { SafetyDelta = 0.05f, SafetyTestSize = 20 }, steps: 1)[0];
        double Value(JsonObject row, string key) => row[key]!.GetValue<double>();
        Assert.Equal(Value(plain, "objective/cost"), Value(pessimistic, "objective/cost"));
        Assert.Equal(Value(plain, "lagrange/episode_cost"), Value(plain, "lagrange/constrained_cost"));
        Assert.True(Value(pessimistic, "lagrange/constrained_cost") > Value(pessimistic, "lagrange/episode_cost") + 0.01, pessimistic.ToJsonString());
        Assert.True(Value(pessimistic, "lagrange/lambda") > Value(plain, "lagrange/lambda"), $"λ {Value(plain, "lagrange/lambda")} vs {Value(pessimistic, "lagrange/lambda")}");
        Assert.NotEqual(Value(plain, "loss/cost_value_avg"), Value(pessimistic, "loss/cost_value_avg"));
    }

    [Fact]
    public void ResumingRestoresTheCostCriticAndLambda()
    {
        using var scratch = new Scratch();
        var settings = new CostConstraintSettings { LambdaLr = 0.5f, EpisodeCostWindowSize = 8 };
        Run(scratch, "resume", Cost, settings, steps: 6, save: 3);
        string full = File.ReadAllText(Path.Combine(scratch.Dir("resume"), "metrics.jsonl"));
        Assert.True(File.Exists(Path.Combine(scratch.Dir("resume"), PpoTrainer.CostCriticDirectory, "model.safetensors")));
        // A fresh trainer resumed from checkpoint-3 logs steps 4–6 as the uninterrupted run did, the cost critic's loss included.
        Run(scratch, "resume", Cost, settings, steps: 6, save: 3);
        Assert.Equal(full, File.ReadAllText(Path.Combine(scratch.Dir("resume"), "metrics.jsonl")));
        Assert.Contains("loss/cost_value_avg", full);
    }

    [Fact]
    public void FixedShapingNeedsNoCostCriticAndASafeRunNeedsOne()
    {
        var policy = TinyTask.Model();
        PpoConfig Config(float? weight) => new() { Training = new() { OutputDir = Path.GetTempPath() }, Cost = new() { CostWeight = weight } };
        var inputs = TinyTask.Inputs(TinyTask.Reward());
        var critic = PpoTrainer.CriticFromPolicy(policy, seed: 2);
        Assert.Contains("needs a cost critic", Assert.Throws<ArgumentException>(() => new PpoTrainer(Config(null), policy, null, critic, inputs, Cost)).Message);
        Assert.Contains("only trained by Safe RLHF", Assert.Throws<ArgumentException>(() => new PpoTrainer(Config(1f), policy, null, critic, inputs, Cost, critic)).Message);
    }
}
