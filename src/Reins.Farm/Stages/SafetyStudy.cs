using System.Diagnostics;
using Reins.Alignment.Detection;
using Reins.Alignment.Grpo;
using Reins.Alignment.Online;
using Reins.Alignment.Ppo;
using Reins.Alignment.RewardModeling;
using Reins.Farm.Evaluation;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Reins.Farm.Tasks.Safety;
using Reins.Feedback.Datasets;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Farm.Stages;

/// <summary>
/// The safety study on a safety task (Safe RLHF, HC-RLHF, JailbreaksOverTime): pairs of SFT samples labelled as
/// PKU-SafeRLHF labels them — whether each response is safe (flipped with label_flip_probability) and which is safer
/// (by gold cost, flipped with the annotators' flip probability) — train a cost model; then fixed shaping
/// (<c>ppo_shaped</c>), the PPO-Lagrangian (<c>safe_ppo</c>), safe GRPO (<c>safe_grpo</c>) and best-of-n under the
/// constraint (<c>best_of_n_safe</c>) join the evaluation beside reward-only PPO; every method takes HC-RLHF's safety
/// test on the held-out prompts; and the jailbreak-drift replay runs a detector trained on the first jailbreak style
/// through weeks of new and mutated styles.
/// </summary>
internal static class SafetyStudy
{
    /// <summary>What the report draws of a constrained run.</summary>
    private static readonly string[] Curves = ["reward", "objective/cost", "lagrange/lambda"];

    public static SafetyResults Run(FarmContext farm, MethodEvaluation evaluation, CausalLanguageModel rewardBase, MethodInputs inputs, IReadOnlyList<PromptOnlyExample> evalPrompts)
    {
        var task = (ISafetyTask)farm.Task;
        var settings = farm.Config.Safety;
        var (records, agreement, prompts, samples) = Annotate(farm, task);
        TrainClassifier(farm, "cost-model", rewardBase, records, settings.CostModelSteps, farm.Seed);
        var cost = RewardModelSource.Cost(farm.RunDir("cost-model"));
        // "No less safe than SFT": by default d is the SFT policy's mean cost on the training prompts, on the cost model's own scale.
        float threshold = settings.Threshold ?? (float)farm.Score(cost, prompts, samples).Average();
        var constraint = new CostConstraintSettings { Threshold = threshold, LambdaLr = settings.LambdaLr };

        evaluation.AddTrained(MethodNames.PpoShaped, () => PolicyMethods.Ppo(farm, MethodNames.PpoShaped, farm.Config.Ppo.KlCoef, farm.Config.Online.Steps, inputs.OnlineReward,
            inputs.Critic, inputs.Prompts, cost, constraint with { CostWeight = settings.CostWeight }), Curves);
        evaluation.AddTrained(MethodNames.SafePpo, () => PolicyMethods.Ppo(farm, MethodNames.SafePpo, farm.Config.Ppo.KlCoef, farm.Config.Online.Steps, inputs.OnlineReward,
            inputs.Critic, inputs.Prompts, cost, constraint, HfCheckpoint.Load(farm.RunDir("cost-model"))), Curves);
        evaluation.AddTrained(MethodNames.SafeGrpo, () => PolicyMethods.Grpo(farm, MethodNames.SafeGrpo, inputs.OnlineReward, inputs.Prompts, cost, constraint), Curves);
        evaluation.AddConstrainedBestOfN(MethodNames.BestOfSafe(settings.BestOfN), settings.BestOfN, cost, threshold, Stopwatch.StartNew());

        var tests = evaluation.SafetyTests(cost, threshold, settings.Delta)
            .Select(t => new SafetyTestResult(t.Name, t.Test.N, t.Test.MeanCost, t.Test.UpperBound, t.Test.Passed ? "pass" : "no solution found", t.GoldCost)).ToArray();
        var lambda = farm.Curves.Where(c => c.Metric == "lagrange/lambda").SelectMany(c => c.Points.Select(p => new LambdaPoint(c.Method, p.Step, p.Value))).ToArray();
        double accuracy = CostModelAccuracy(farm, task, cost, evalPrompts);
        farm.Log($"safety: cost model sign agrees with gold on {accuracy:P1} of held-out SFT responses; safety tests: " +
            string.Join(", ", tests.Select(t => $"{t.Method} {t.Result}")));
        return new SafetyResults(records.Count, agreement, accuracy, threshold, settings.CostWeight, settings.Delta, tests, lambda, settings.DetectorFpr,
            JailbreakDrift(farm, task, rewardBase));
    }

    // A cost model (or a detector: a cost model over prompts) trained from the reward models' base, saved as stage `name`.
    private static CausalLanguageModel TrainClassifier(FarmContext farm, string name, CausalLanguageModel rewardBase, IReadOnlyList<Example> examples, int steps, ulong seed)
    {
        var config = new CostConfig
        {
            Training = new()
            {
                OutputDir = farm.RunDir(name), MaxSteps = steps, LearningRate = farm.Config.Safety.CostModelLearningRate, PerDeviceTrainBatchSize = farm.Config.BatchSize,
                LoggingSteps = 10, Seed = seed,
            },
            MaxLength = farm.Config.Context,
        };
        return farm.Train(name, new CostModelTrainer(config, rewardBase.Clone(), farm.Encoder, examples, null, farm.Tokenizer.Save), curves: ["loss", "safety_accuracy"]);
    }

    // PKU-SafeRLHF-style records on two SFT samples of each safety prompt, the share of is_safe labels that are right, and the samples.
    private static (IReadOnlyList<SafetyPreferenceExample> Records, double Agreement, IReadOnlyList<PromptOnlyExample> Prompts, IReadOnlyList<Models.Generation.GeneratedSequence> Samples)
        Annotate(FarmContext farm, ISafetyTask task)
    {
        var settings = farm.Config.Safety;
        ulong seed = farm.Seed + farm.Config.Seeds.SafetyLabels;
        var prompts = task.Prompts(FarmSplit.Train, settings.SafetyPrompts, seed);
        var samples = farm.Sample(farm.LoadSft(), prompts, 2, seed + 1);
        var rng = new Rng(seed + 2);
        var records = new List<SafetyPreferenceExample>();
        int labels = 0, right = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            string prompt = prompts[i].Prompt.Text!;
            string[] responses = [samples[2 * i].Text!, samples[2 * i + 1].Text!];
            if (responses[0] == responses[1]) continue;
            double[] costs = [.. responses.Select(r => task.Cost(prompt, r))];
            bool[] safe = [.. costs.Select(c => (c <= 0) ^ (rng.NextDouble() < settings.LabelFlipProbability))];
            labels += 2;
            right += costs.Zip(safe).Count(x => (x.First <= 0) == x.Second);
            int safer = costs[0] == costs[1] ? rng.NextInt(2) : costs[0] < costs[1] ? 0 : 1;
            if (rng.NextDouble() < farm.Config.Annotation.FlipProbability) safer = 1 - safer;
            int better = task.Gold(prompt, responses[0]) >= task.Gold(prompt, responses[1]) ? 0 : 1;
            records.Add(new SafetyPreferenceExample(TextOrConversation.FromText(prompt), [.. responses.Select(TextOrConversation.FromText)], safe, better, safer));
        }
        farm.Log($"safety labels: {records.Count} pairs, is_safe labels right {right / (double)Math.Max(1, labels):P1}");
        return (records, right / (double)Math.Max(1, labels), prompts, samples);
    }

    // The cost model's sign against the gold cost's, on SFT samples of the held-out prompts.
    private static double CostModelAccuracy(FarmContext farm, ISafetyTask task, IRewardSource cost, IReadOnlyList<PromptOnlyExample> prompts)
    {
        var samples = farm.Sample(farm.LoadSft(), prompts, 1, farm.Seed + farm.Config.Seeds.SafetyLabels + 3);
        var costs = farm.Score(cost, prompts, samples);
        return Enumerable.Range(0, prompts.Count).Count(i => costs[i] > 0 == task.Cost(prompts[i].Prompt.Text!, samples[i].Text!) > 0) / (double)prompts.Count;
    }

    // A detector trained on week −1 (the first style) replayed through the drift weeks, static, self-trained and with true labels.
    private static IReadOnlyList<DriftPeriod> JailbreakDrift(FarmContext farm, ISafetyTask task, CausalLanguageModel rewardBase)
    {
        var settings = farm.Config.Safety;
        ulong seed = farm.Seed + farm.Config.Seeds.JailbreakDrift;
        var initial = JailbreakStream.Week(task, FarmSplit.Train, -1, 3 * settings.DriftPromptsPerPeriod, seed)
            .Select(p => (Example)new SafetyLabelExample(TextOrConversation.FromText(""), TextOrConversation.FromText(p.Prompt), IsSafe: p.Jailbreak != true)).ToArray();
        var detector = TrainClassifier(farm, "detector", rewardBase, initial, settings.DetectorSteps, seed);
        var stream = Enumerable.Range(0, settings.DriftPeriods).SelectMany(w => JailbreakStream.Week(task, farm.Config.EvaluationSplit, w, settings.DriftPromptsPerPeriod, seed)).ToArray();
        var replay = new DetectorStream(new DetectorStreamSettings
        {
            SelfTrain = true, TrueLabels = true, TargetFpr = settings.DetectorFpr, LearningRate = settings.CostModelLearningRate, BatchSize = farm.Config.BatchSize,
            MaxLength = farm.Config.Context, Seed = seed,
        }, farm.Encoder).Run(detector, stream, Path.Combine(farm.OutDir, "runs", "detector-stream"));
        static double? Finite(double x) => double.IsFinite(x) ? x : null;
        var periods = replay.Select(r => new DriftPeriod(r.Period, JailbreakStream.Styles(r.Period), Finite(r.Detectors[DetectorStream.Static].Fnr),
            Finite(r.Detectors[DetectorStream.SelfTrained].Fnr), Finite(r.Detectors[DetectorStream.TrueLabelled].Fnr))).ToArray();
        farm.Log("jailbreak drift: FNR static/self-trained/true labels by week: " +
            string.Join("; ", periods.Select(p => $"{p.Static:F2}/{p.SelfTrained:F2}/{p.TrueLabels:F2}")));
        return periods;
    }
}
