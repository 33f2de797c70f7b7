using Reins.Alignment.BestOfN;
using Reins.Alignment.ProcessRewardModeling;
using Reins.Alignment.Sft;
using Reins.Farm.Evaluation;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Reins.Feedback.Datasets;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Critics;
using Reins.Rewards.Evaluation;
using Reins.Rewards.ProcessRewards;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Sources;

namespace Reins.Farm.Stages;

/// <summary>
/// Process against outcome supervision on a step-by-step task, where the gold checker judges every step (Lightman et
/// al. 2023, "Let's verify step by step"; Wang et al. 2024, Math-Shepherd). SFT's solutions to training prompts are
/// labelled by the gold checker and by Math-Shepherd's completions (the SFT policy completing each prefix, the gold
/// answer check judging); a PRM is trained on each, and an outcome model (ORM: the gold labels of the last step only) on
/// the same traces with the same budget. Then: best-of-n on held-out prompts picked by each PRM's weakest step, by the
/// ORM and by majority voting; ProcessBench on held-out traces (the earliest wrong step by the gold checker) for the
/// PRMs, the ORM (threshold ½) and a generative critic fine-tuned on the training traces' earliest errors; and PPO on the
/// gold PRM's step rewards against PPO on the ORM's score at the end, gold accuracy measured as they train.
/// </summary>
internal static class ProcessSupervisionStudy
{
    /// <summary>What ends each step of a response.</summary>
    public const string Separator = "\n";

    // A prompt the farm's 64-token context holds: the problem, one "i: step" line per step, then the verdict.
    private static readonly CriticFormat CriticPrompt = new("{problem}\n{lines}\nearliest error:", @"^\s*(-?\d+)");

    /// <summary>The study's results.</summary>
    public static ProcessSupervisionResults Run(FarmContext farm, MethodEvaluation evaluation, CausalLanguageModel rewardBase, RewardModel critic,
        IReadOnlyList<PromptOnlyExample> trainPrompts, IReadOnlyList<PromptOnlyExample> evalPrompts)
    {
        var settings = farm.Config.Process;
        var task = farm.Task;
        var seeds = farm.Config.Seeds;
        var sft = farm.LoadSft();

        // Training traces and their two labellings.
        var prompts = task.Prompts(FarmSplit.Train, settings.TracePrompts, farm.Seed + seeds.ProcessTraces);
        var traces = farm.Sample(sft, prompts, settings.TracesPerPrompt, farm.Seed + seeds.ProcessTraces)
            .Select((x, i) => (Record: prompts[i / settings.TracesPerPrompt], Steps: Steps(x.Text!))).Where(t => t.Steps.Length > 0).ToArray();
        var gold = traces.Select(t => task.StepLabels(t.Record.Prompt.Text!, t.Steps)).ToArray();
        var labeler = new MathShepherdLabeler(sft, farm.Encoder, farm.Decode, new GoldRewardSource(task), new SamplingOptions
        {
            MaxNewTokens = farm.Config.MaxResponseTokens, NumReturnSequences = settings.ShepherdCompletions, Seed = farm.Seed + seeds.ProcessTraces,
        }, Separator);
        var shepherd = traces.Select((t, i) => labeler.Label(t.Record, i, 0, t.Steps).Labels(StepEstimate.Hard).Cast<bool>().ToArray()).ToArray();
        int steps = gold.Sum(g => g.Length);
        double agreement = (double)gold.Select((g, i) => g.Zip(shepherd[i]).Count(p => p.First == p.Second)).Sum() / Math.Max(1, steps);
        farm.Log($"process: {traces.Length} traces, {steps} steps; Math-Shepherd labels agree with the gold checker on {agreement:P1}");

        var models = new Dictionary<string, ProcessRewardModel>
        {
            ["prm_gold"] = Prm(farm, "prm-gold", rewardBase, traces, gold, lastStepOnly: false),
            ["prm_shepherd"] = Prm(farm, "prm-shepherd", rewardBase, traces, shepherd, lastStepOnly: false),
            ["orm"] = Prm(farm, "orm", rewardBase, traces, gold, lastStepOnly: true),
        };

        // Held-out samples, the largest n per prompt, scored once by every model.
        int most = settings.BestOfN.Max();
        var held = farm.Sample(sft, evalPrompts, most, farm.Seed + seeds.ProcessSamples);
        var heldSteps = held.Select(x => Steps(x.Text!)).ToArray();
        string ProblemOf(int i) => evalPrompts[i / most].Prompt.Text!;
        var heldGold = held.Select((x, i) => task.Gold(ProblemOf(i), x.Text!)).ToArray();
        var stepScores = models.ToDictionary(m => m.Key, m => Score(m.Value, held.Count, heldSteps, ProblemOf));

        var bestOfN = BestOfN(farm, settings, most, evalPrompts.Count, heldGold, stepScores, [.. held.Select(x => VerifiableRewards.ExtractAnswer(x.Text!))]);
        var processBench = ProcessBench(farm, settings, traces, gold, heldSteps, ProblemOf, stepScores, sft);
        var ppo = DenseAgainstOutcome(farm, settings, evaluation, models["prm_gold"], models["orm"], critic, trainPrompts);
        return new ProcessSupervisionResults(traces.Length, agreement, bestOfN, processBench, ppo);
    }

    /// <summary>A response's steps: its lines, trimmed, blank ones dropped.</summary>
    public static string[] Steps(string response) => StepSolution.Split(response, Separator).Steps;

    private static ProcessRewardModel Prm(FarmContext farm, string name, CausalLanguageModel rewardBase, (PromptOnlyExample Record, string[] Steps)[] traces,
        bool[][] labels, bool lastStepOnly)
    {
        var settings = farm.Config.Process;
        var config = new PrmConfig
        {
            Training = new()
            {
                OutputDir = farm.RunDir(name), MaxSteps = settings.PrmSteps, LearningRate = settings.PrmLearningRate, PerDeviceTrainBatchSize = farm.Config.BatchSize,
                LoggingSteps = 10, Seed = farm.Seed,
            },
            MaxLength = farm.Config.Context, StepSeparator = Separator, TrainOnLastStepOnly = lastStepOnly,
        };
        var examples = traces.Select((t, i) => new StepwiseExample(t.Record.Prompt.Text!, t.Steps, labels[i])).ToArray();
        var model = farm.Train(name, new PrmTrainer(config, rewardBase.Clone(), farm.Encoder, examples, null, farm.Tokenizer.Save), curves: ["loss", "accuracy"]);
        return new ProcessRewardModel(model, farm.Encoder, Separator);
    }

    // Step scores of every held-out sample (none for a sample without a step).
    private static float?[][] Score(ProcessRewardModel model, int count, string[][] steps, Func<int, string> problem)
    {
        var withSteps = Enumerable.Range(0, count).Where(i => steps[i].Length > 0).ToArray();
        var scored = model.StepScores([.. withSteps.Select(i => new StepSolution(problem(i), steps[i]))], 32);
        var result = new float?[count][];
        Array.Fill(result, []);
        for (int j = 0; j < withSteps.Length; j++) result[withSteps[j]] = scored[j];
        return result;
    }

    private static List<BestOfNSelection> BestOfN(FarmContext farm, ProcessSupervisionSettings settings, int most, int prompts, double[] gold,
        Dictionary<string, float?[][]> stepScores, string[] answers)
    {
        // Each model picks by its own reading: a PRM by the weakest step, the ORM by the last.
        var selectors = new Dictionary<string, float[]>
        {
            ["prm_gold"] = Aggregate(stepScores["prm_gold"], StepAggregation.Min),
            ["prm_shepherd"] = Aggregate(stepScores["prm_shepherd"], StepAggregation.Min),
            ["orm"] = Aggregate(stepScores["orm"], StepAggregation.Last),
        };
        var points = new List<BestOfNSelection>();
        foreach (int n in settings.BestOfN)
        {
            foreach (var (name, scores) in selectors.Append(new("majority", new float[gold.Length])))
            {
                var accuracy = Enumerable.Range(0, prompts).Select(p =>
                {
                    int first = p * most;
                    int pick = name == "majority"
                        ? BestOfNSampler.Vote(answers[first..(first + n)], scores.AsSpan(first, n), weighted: false).Index
                        : BestOfNSampler.Top(scores.AsSpan(first, n), 1)[0];
                    return gold[first + pick];
                }).ToArray();
                var interval = Bootstrap.Mean(accuracy, farm.Seed + farm.Config.Seeds.ProcessSamples + (ulong)n);
                points.Add(new BestOfNSelection(name, n, accuracy.Average(), interval.ToArray()));
            }
            farm.Log($"process: best of {n}: " + string.Join(", ", points.Where(x => x.N == n).Select(x => $"{x.Selector} {x.Accuracy:F3}")));
        }
        return points;
    }

    private static float[] Aggregate(float?[][] stepScores, StepAggregation aggregation) =>
        [.. stepScores.Select(s => ProcessRewardSource.Aggregate([.. s.OfType<float>()], aggregation))];

    private static List<ProcessBenchScore> ProcessBench(FarmContext farm, ProcessSupervisionSettings settings, (PromptOnlyExample Record, string[] Steps)[] traces,
        bool[][] traceLabels, string[][] heldSteps, Func<int, string> problem, Dictionary<string, float?[][]> stepScores, CausalLanguageModel sft)
    {
        // The benchmark: as many held-out traces with a wrong step as without (ProcessBench is balanced by design), each
        // labelled by its earliest wrong step; a trace that stops before its answer with every step right has no label.
        int? Label(string prompt, string[] steps, bool[] labels) =>
            Array.IndexOf(labels, false) is >= 0 and var wrong ? wrong : farm.Task.Gold(prompt, string.Join(Separator, steps)) > 0 ? -1 : null;
        var labelled = Enumerable.Range(0, heldSteps.Length).Where(i => heldSteps[i].Length > 0)
            .Select(i => (Index: i, Label: Label(problem(i), heldSteps[i], farm.Task.StepLabels(problem(i), heldSteps[i])))).Where(x => x.Label is not null).ToArray();
        var items = labelled.Where(x => x.Label >= 0).Take(settings.ProcessBenchPerClass).Concat(labelled.Where(x => x.Label == -1).Take(settings.ProcessBenchPerClass)).ToArray();

        var critic = Critic(farm, settings, traces, traceLabels, sft, Label);
        var verdicts = critic.Judge([.. items.Select(x => new StepSolution(problem(x.Index), heldSteps[x.Index]))], 32);
        var scores = new List<ProcessBenchScore>();
        foreach (var (name, predict) in stepScores.Select(m => (m.Key, (Func<int, int, int>)((i, _) => Reins.Rewards.Evaluation.ProcessBench.Prediction(m.Value[i], 0.5))))
            .Append(("critic", (i, k) => verdicts[k].Verdict ?? -2)))
        {
            var result = ProcessBenchResult.Of(items.Select((x, k) => (x.Label!.Value, predict(x.Index, k))));
            scores.Add(new ProcessBenchScore(name, result.F1, result.ErrorAccuracy, result.CorrectAccuracy, result.Erroneous, result.Correct));
        }
        farm.Log($"process: ProcessBench on {items.Length} held-out traces, F1: " + string.Join(", ", scores.Select(x => $"{x.Judge} {x.F1:F3}")));
        return scores;
    }

    // A critic fine-tuned from the SFT policy to name the training traces' earliest wrong step.
    private static GenerativeCritic Critic(FarmContext farm, ProcessSupervisionSettings settings, (PromptOnlyExample Record, string[] Steps)[] traces,
        bool[][] labels, CausalLanguageModel sft, Func<string, string[], bool[], int?> label)
    {
        var examples = traces.Select((t, i) => (t, Label: label(t.Record.Prompt.Text!, t.Steps, labels[i]))).Where(x => x.Label is not null)
            .Select(x => (Example)new PromptCompletionExample(TextOrConversation.FromText(CriticPrompt.Render(x.t.Record.Prompt.Text!, x.t.Steps)),
                TextOrConversation.FromText($" {x.Label}"))).ToList();
        var config = new SftConfig
        {
            Training = new()
            {
                OutputDir = farm.RunDir("critic"), MaxSteps = settings.CriticSteps, LearningRate = farm.Config.Sft.LearningRate, PerDeviceTrainBatchSize = farm.Config.BatchSize,
                LoggingSteps = 10, Seed = farm.Seed,
            },
            MaxLength = farm.Config.Context,
        };
        var model = farm.Train("critic", new SftTrainer(config, sft.Clone(), farm.Encoder, examples, null, farm.Tokenizer.Save), curves: ["loss"]);
        return new GenerativeCritic(model, farm.Encoder, farm.Decode, CriticPrompt, new SamplingOptions { MaxNewTokens = 4, Temperature = 0 });
    }

    // PPO on the gold PRM's step rewards against PPO on the ORM's score at the end, from the same SFT policy and critic.
    private static List<RewardCurvePoint> DenseAgainstOutcome(FarmContext farm, ProcessSupervisionSettings settings, MethodEvaluation evaluation,
        ProcessRewardModel prm, ProcessRewardModel orm, RewardModel critic, IReadOnlyList<PromptOnlyExample> prompts)
    {
        var points = new List<RewardCurvePoint>();
        double start = evaluation.Measure(farm.LoadSft()).Gold;
        foreach (var (name, reward) in new (string, IRewardSource)[]
        {
            ("dense_prm", new ProcessRewardSource(prm, StepAggregation.Min, name: "prm")),
            // Seen only as one score, the ORM rewards the end of the response alone.
            ("outcome_orm", new OutcomeOnly(new ProcessRewardSource(orm, StepAggregation.Last, name: "orm"))),
        })
        {
            points.Add(new RewardCurvePoint(name, 0, start));
            var ppo = PolicyMethods.Ppo(farm, "process-ppo-" + name, farm.Config.Ppo.KlCoef, settings.PpoSteps, reward, critic, prompts);
            farm.Train("process-ppo-" + name, ppo, step =>
            {
                if (step % settings.PpoEvery == 0) points.Add(new RewardCurvePoint(name, step, evaluation.Measure(ppo.Model).Gold));
            });
        }
        farm.Log("process: PPO gold accuracy at the end: " + string.Join(", ", points.GroupBy(p => p.Reward).Select(g => $"{g.Key} {g.Last().Accuracy:F3}")));
        return points;
    }

    // A reward source's scores without its step rewards.
    private sealed class OutcomeOnly(IRewardSource inner) : IRewardSource
    {
        public string Name => inner.Name;
        public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) => inner.Score(requests, cancellation);
    }
}
