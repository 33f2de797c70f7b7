using System.Collections.Frozen;
using System.Text.Json;
using Reins.Alignment.Dno;
using Reins.Alignment.IterativeDpo;
using Reins.Alignment.NashMd;
using Reins.Alignment.RewardModeling;
using Reins.Alignment.Sppo;
using Reins.Alignment.Training;
using Reins.Farm.Evaluation;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Reins.Farm.Tasks.Cyclic;
using Reins.Feedback.Datasets;
using Reins.Models.Transformers;
using Reins.Rewards.Judges;
using Reins.Rewards.PreferenceModels;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Farm.Stages;

/// <summary>
/// The cyclic study, on a task whose people prefer styles in a cycle (issue 19 §5): a general preference model (GPM,
/// the default recipe) and a pair preference model train on the same annotated pairs as the Bradley–Terry proxy, from
/// the same base with the same steps, and all three are scored on held-out pairs of well-formed replies in different
/// styles, a third for each relation (BT can fit at most two of them); then Nash-MD, SPPO and DNO, judged by the GPM,
/// join the evaluation beside PPO on the BT proxy, each on the online methods' budget of samples; and every method's
/// held-out responses are classified by style, with the worst-case gold win-rate against a pure style.
/// </summary>
internal static class CyclicStudy
{
    private const string BradleyTerry = "bradley_terry", Gpm = "gpm", Pair = "pair";

    public static CyclicResults Run(FarmContext farm, MethodEvaluation evaluation, CausalLanguageModel rewardBase, MethodInputs inputs, IReadOnlyList<PromptOnlyExample> evalPrompts)
    {
        var task = (ICyclicTask)farm.Task;
        var preferences = inputs.Preferences;
        farm.Train("gpm", new RewardTrainer(RewardModelTraining.Config(farm, "gpm", farm.Seed), rewardBase.Clone(), farm.Encoder, preferences, null, farm.Tokenizer.Save,
            generalPreference: true), curves: ["loss", "accuracy"]);
        string separator = PairPreferenceModel.DefaultSeparator;
        farm.Train("pair-model", new RewardTrainer(RewardModelTraining.Config(farm, "pair-model", farm.Seed), rewardBase.Clone(), farm.Encoder,
            [.. preferences.Select(p => PairPreferenceModel.Joined(p, separator))], null, d => { farm.Tokenizer.Save(d); PairPreferenceModel.Save(d, separator); }),
            curves: ["loss", "accuracy"]);
        var gpm = PreferenceModelJudge.Load(farm.RunDir("gpm"));

        var pairs = HeldOutPairs(farm, task, evalPrompts);
        PairAccuracy[] accuracy =
        [
            new(BradleyTerry, Accuracy(BradleyTerryProbabilities(inputs.Proxy, pairs))),
            new(Gpm, Accuracy(gpm.Judge(pairs))),
            new(Pair, Accuracy(PreferenceModelJudge.Load(farm.RunDir("pair-model")).Judge(pairs))),
        ];
        farm.Log("cyclic: held-out pair accuracy " + string.Join(", ", accuracy.Select(a => $"{a.Model} {a.Accuracy:F3}")));

        var settings = farm.Config.SelfPlay;
        evaluation.AddTrained(MethodNames.NashMd, () => new NashMdTrainer(new NashMdConfig
        {
            Training = PolicyMethods.OnlineTraining(farm, MethodNames.NashMd, settings.LearningRate, farm.Config.Online.Steps), Online = PolicyMethods.OnlineArguments(farm),
            Beta = settings.Beta,
        }, farm.LoadSft(), farm.LoadSft(), PolicyMethods.Inputs(farm, inputs.Prompts, inputs.Proxy), gpm));
        evaluation.AddTrained(MethodNames.Sppo, () => new IterativeDpoTrainer(new SppoConfig
        {
            Training = IterationTraining(farm, MethodNames.Sppo), Loss = new SppoConfig().Loss with { Beta = settings.Beta },
            Iteration = Iterations(farm, new SppoConfig().Iteration),
        }, farm.LoadSft(), farm.LoadSft(), PolicyMethods.Inputs(farm, inputs.Prompts, inputs.Proxy), gpm));
        evaluation.AddTrained(MethodNames.Dno, () => new IterativeDpoTrainer(new DnoConfig
        {
            Training = IterationTraining(farm, MethodNames.Dno), Loss = new DnoConfig().Loss with { Beta = settings.Beta },
            Iteration = Iterations(farm, new DnoConfig().Iteration),
        }, farm.LoadSft(), farm.LoadSft(), PolicyMethods.Inputs(farm, inputs.Prompts, inputs.Proxy), gpm));

        var mixes = evaluation.Responses.Select(r => Mix(task, r.Method, r.Responses)).ToArray();
        farm.Log("cyclic: worst-case win-rate " + string.Join(", ", mixes.Select(m => $"{m.Method} {m.WorstCaseWinRate:F2}")));
        return new CyclicResults(pairs.Count, accuracy, mixes);
    }

    // An iteration's passes over its pairs: the farm's preference batch, epochs_per_iteration times.
    private static TrainingArguments IterationTraining(FarmContext farm, string name) => new()
    {
        OutputDir = farm.RunDir(name), NumTrainEpochs = farm.Config.SelfPlay.EpochsPerIteration, LearningRate = farm.Config.SelfPlay.LearningRate,
        PerDeviceTrainBatchSize = farm.Config.BatchSize, LoggingSteps = 2, Seed = farm.Seed,
    };

    // The online methods' budget of samples (steps × batch) spread over the iterations' num_generations samples per prompt.
    private static IterationSettings Iterations(FarmContext farm, IterationSettings defaults)
    {
        var settings = farm.Config.SelfPlay;
        int samples = farm.Config.Online.Steps * farm.Config.Online.BatchSize;
        return defaults with
        {
            Iterations = settings.Iterations, NumGenerations = settings.NumGenerations,
            PromptsPerIteration = Math.Max(1, samples / (settings.Iterations * settings.NumGenerations)),
            Sampling = new() { MaxPromptLength = farm.MaxPromptLength, MaxCompletionLength = farm.Config.MaxResponseTokens, MissingEosPenalty = farm.Config.Online.MissingEosPenalty },
        };
    }

    // One pair per held-out prompt, the winner first: relation i mod 3 of the cycle, each reply drawn well formed.
    private static IReadOnlyList<PairToJudge> HeldOutPairs(FarmContext farm, ICyclicTask task, IReadOnlyList<PromptOnlyExample> prompts)
    {
        var rng = new Rng(farm.Seed + farm.Config.Seeds.CyclicPairs);
        return [.. prompts.Select((p, i) =>
        {
            int winner = i % task.Styles.Count;
            string prompt = p.Prompt.Text!;
            return new PairToJudge(Request(prompt, task.Respond(rng, winner)), Request(prompt, task.Respond(rng, (winner + 1) % task.Styles.Count)));
        })];
    }

    private static ScoringRequest Request(string prompt, string completion) => new(prompt, completion, [], [], true, FrozenDictionary<string, JsonElement>.Empty);

    // σ(r(first) − r(second)) of the reward model, as a Bradley–Terry model reads its scores.
    private static float[] BradleyTerryProbabilities(IRewardSource reward, IReadOnlyList<PairToJudge> pairs)
    {
        var scores = reward.Score([.. pairs.Select(p => p.First), .. pairs.Select(p => p.Second)]);
        return [.. pairs.Select((_, i) => 1f / (1f + MathF.Exp(scores[pairs.Count + i] - scores[i])))];
    }

    // The first of each pair is the winner: right above ½, half right at ½.
    private static double Accuracy(float[] probabilities) => probabilities.Average(p => p > 0.5f ? 1 : p == 0.5f ? 0.5 : 0);

    /// <summary>The shares of <paramref name="responses"/> in each style and the worst-case win-rate they give.</summary>
    internal static StyleMix Mix(ICyclicTask task, string method, string[] responses)
    {
        int k = task.Styles.Count;
        var counts = new int[k + 1];
        foreach (var r in responses) counts[task.StyleOf(r) ?? k]++;
        double[] share = [.. counts.Select(c => c / (double)responses.Length)];
        // Against a pure reply in style s, a reply in s − 1 wins, one in s ties and every other reply loses.
        double worst = Enumerable.Range(0, k).Min(s => share[(s + k - 1) % k] + 0.5 * share[s]);
        return new StyleMix(method, task.Styles.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => share[x.i]), share[k], worst);
    }
}
