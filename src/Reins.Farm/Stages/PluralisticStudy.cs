using Reins.Alignment.RewardModeling;
using Reins.Farm.Evaluation;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Farm.Tasks.Pluralistic;
using Reins.Feedback.Annotators;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Rewards.Sources;

namespace Reins.Farm.Stages;

/// <summary>
/// The pluralistic study, on a task whose annotators fall into groups that want different things (issue 19 §5,
/// MaxMin-RLHF's experiment): an EM mixture reward model with one component per group trains on the annotated pairs
/// and their annotator ids, from the reward models' base with their steps; PPO then optimises its components weighed
/// by their shares of the annotators (<c>ppo_mixture</c>) and their minimum (<c>ppo_maxmin</c>), beside PPO on the
/// single Bradley–Terry proxy (<c>ppo</c>), all with the same critic start and budget; and every evaluated method's
/// held-out responses get each group's mean gold and a win-rate against SFT from evaluators of that group alone.
/// </summary>
internal static class PluralisticStudy
{
    public static PluralisticResults Run(FarmContext farm, MethodEvaluation evaluation, Models.Transformers.CausalLanguageModel rewardBase, MethodInputs inputs)
    {
        var task = (IPluralisticTask)farm.Task;
        var groups = task.Groups;
        int annotators = farm.Config.Annotation.Annotators;
        const string name = "mixture-reward-model";
        var config = RewardModelTraining.Config(farm, name, farm.Seed) with { MixtureComponents = groups.Count, MixtureEmInterval = farm.Config.Pluralistic.EmInterval };
        farm.Train(name, new MixtureRewardTrainer(config, rewardBase.Clone(), farm.Encoder, inputs.Preferences, null, farm.Tokenizer.Save), curves: ["loss", "accuracy"]);
        var assigned = MixtureAssignments.Load(farm.RunDir(name)).Hard;
        double assignment = AssignmentAccuracy(assigned, i => IPluralisticTask.GroupOf(groups, i, annotators), groups.Count, annotators);
        farm.Log($"pluralistic: the EM mixture put {assignment:P0} of the annotators with their own group");

        var mixture = RewardModel.Load(farm.RunDir(name));
        // The population's expected reward as the mixture sees it: each component weighed by its share of the annotators.
        var shares = mixture.Labels.Select((label, k) => (label, share: assigned.Values.Count(c => c == k) / (float)assigned.Count)).ToDictionary(x => x.label, x => x.share);
        Add(farm, evaluation, MethodNames.PpoMixture, new RewardModelSource(mixture, farm.Encoder, new RewardScoringOptions { Weights = shares }), inputs);
        Add(farm, evaluation, MethodNames.PpoMaxMin, new RewardModelSource(mixture, farm.Encoder, new RewardScoringOptions { Aggregation = RewardAggregation.Parse("min") }), inputs);

        var prompts = evaluation.Prompts;
        var responses = evaluation.Responses;
        var sft = responses.Single(r => r.Method == MethodNames.Sft).Responses;
        var outcomes = responses.Select(r => new GroupOutcomes(r.Method, groups.ToDictionary(g => g.Name, g => new GroupOutcome(
            r.Responses.Select((x, i) => g.Gold(prompts[i], x)).Average(),
            r.Method == MethodNames.Sft ? null
                : WinRate.Of(WinRate.Judge(PreferenceCollection.GroupEvaluators(farm, g), prompts, r.Responses, sft, farm.Seed + farm.Config.Seeds.GroupWinRates)))))).ToArray();
        farm.Log("pluralistic: gold by group " + string.Join("; ", outcomes.Select(o => $"{o.Method} " + string.Join("/", o.Groups.Values.Select(g => $"{g.Gold:F2}")))));
        var info = groups.Select((g, k) => new GroupInfo(g.Name, g.Share, Enumerable.Range(0, annotators).Count(i => IPluralisticTask.GroupOf(groups, i, annotators) == k))).ToArray();
        return new PluralisticResults(info, assignment, outcomes);
    }

    private static void Add(FarmContext farm, MethodEvaluation evaluation, string name, IRewardSource reward, MethodInputs inputs) =>
        evaluation.AddTrained(name, () => PolicyMethods.Ppo(farm, name, farm.Config.Ppo.KlCoef, farm.Config.Online.Steps, reward, inputs.Critic, inputs.Prompts),
            PolicyMethods.PpoCurves);

    /// <summary>
    /// The share of annotators whose component is their group's under the best one-to-one matching of components to
    /// groups (components are learned unlabelled); an annotator the mixture never saw counts as wrong.
    /// </summary>
    public static double AssignmentAccuracy(IReadOnlyDictionary<string, int> assigned, Func<int, int> trueGroup, int groups, int annotators)
    {
        int best = 0;
        foreach (var matching in Permutations(groups))
            best = Math.Max(best, Enumerable.Range(0, annotators).Count(i => assigned.TryGetValue(AnnotatorPool.SimulatedId(i), out int c) && matching[c] == trueGroup(i)));
        return best / (double)annotators;
    }

    private static IEnumerable<int[]> Permutations(int n) => n == 0 ? [[]]
        : Permutations(n - 1).SelectMany(p => Enumerable.Range(0, n).Select(at => (int[])[.. p[..at], n - 1, .. p[at..]]));
}
