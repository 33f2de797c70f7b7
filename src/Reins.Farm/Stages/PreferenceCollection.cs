using Reins.Farm.Pipeline;
using Reins.Farm.Tasks;
using Reins.Farm.Tasks.Cyclic;
using Reins.Farm.Tasks.Pluralistic;
using Reins.Feedback.Annotators;
using Reins.Feedback.Datasets;
using Reins.Models.Transformers;

namespace Reins.Farm.Stages;

/// <summary>What the annotation stage produced: the labelled pairs and how well the pool agreed.</summary>
/// <param name="Preferences">One record per pair whose two responses differ, labelled by one annotator of the pool.</param>
/// <param name="Agreement">The pool's agreement with the gold reward and with itself.</param>
internal sealed record AnnotatedPreferences(IReadOnlyList<PreferenceExample> Preferences, AgreementReport Agreement);

/// <summary>
/// The third stage, AlpacaFarm's: two SFT samples of each training prompt, labelled by a pool of simulated annotators
/// (Bradley–Terry choosers on the gold reward with spread temperatures, label flips, position and length biases).
/// </summary>
internal static class PreferenceCollection
{
    /// <summary>The pool of a task: temperatures as fractions of its gold range, its length bias.</summary>
    public static AnnotatorPool Pool(FarmContext farm, double maxTemperature, double flipProbability, ulong seedOffset, IReadOnlyList<IPairwiseAnnotator>? external = null) =>
        Pool(farm.Task, farm.Config, maxTemperature, flipProbability, farm.Seed + seedOffset, external);

    // With a group, every member judges by that group's gold; without, by the task's truth, or a pluralistic task's members by their groups'.
    private static AnnotatorPool Pool(IFarmTask task, FarmConfig config, double maxTemperature, double flipProbability, ulong seed, IReadOnlyList<IPairwiseAnnotator>? external = null,
        AnnotatorGroup? group = null)
    {
        var settings = config.Annotation;
        double range = task.RatingScale.GoldAtHighest - task.RatingScale.GoldAtLowest;
        var profiles = AnnotatorProfile.Spread(settings.Annotators, settings.MinTemperature * range, maxTemperature * range, flipProbability,
            task.LengthBias * range, settings.PositionBias);
        if (group is not null) return new AnnotatorPool(profiles, group.Gold, seed, external);
        var memberGolds = task is IPluralisticTask plural
            ? profiles.Select((_, i) => new GoldPreference(plural.Groups[IPluralisticTask.GroupOf(plural.Groups, i, profiles.Length)].Gold)).ToArray()
            : null;
        return new AnnotatorPool(profiles, Truth(task), seed, external, memberGolds);
    }

    /// <summary>What a task's simulated humans judge pairs by: its gold reward, or a cyclic task's margin.</summary>
    public static GoldPreference Truth(IFarmTask task) => new(task.Gold, task is ICyclicTask cyclic ? cyclic.GoldMargin : null);

    /// <summary>The evaluator pool (as <see cref="SharedStages.Evaluators"/>'s) of a pluralistic task's <paramref name="group"/> alone.</summary>
    public static AnnotatorPool GroupEvaluators(FarmContext farm, AnnotatorGroup group) =>
        Pool(farm.Task, farm.Config, farm.Config.Annotation.EvaluatorMaxTemperature, flipProbability: 0, farm.Seed + farm.Config.Seeds.Evaluators, group: group);

    /// <summary>
    /// A task's evaluator pool outside a farm run (`reins eval winrate --annotators simulated`): the pool the farm's reports
    /// judge win-rates with (its task config's evaluator temperature, no label flips), seeded by <paramref name="seed"/>.
    /// </summary>
    public static AnnotatorPool Evaluators(string task, ulong seed)
    {
        var config = FarmConfig.ForTask(task);
        return Pool(FarmTasks.Get(task), config, config.Annotation.EvaluatorMaxTemperature, flipProbability: 0, seed);
    }

    /// <summary>Samples and labels the pairs of preference_prompts training prompts.</summary>
    public static AnnotatedPreferences Run(FarmContext farm, CausalLanguageModel sft)
    {
        var settings = farm.Config.Annotation;
        var annotators = Pool(farm, settings.MaxTemperature, settings.FlipProbability, farm.Config.Seeds.Annotators, farm.ExternalAnnotators);
        var prompts = farm.Task.Prompts(FarmSplit.Train, farm.Config.PreferencePrompts, farm.Seed + farm.Config.Seeds.PreferencePrompts);
        var samples = farm.Sample(sft, prompts, 2, farm.Seed + farm.Config.Seeds.PreferenceSamples);
        var pairs = new List<ResponsePair>();
        var preferences = new List<PreferenceExample>();
        for (int i = 0; i < prompts.Count; i++)
        {
            string prompt = prompts[i].Prompt.Text!, a = samples[2 * i].Text!, b = samples[2 * i + 1].Text!;
            // Identical responses tell the annotator nothing to choose between.
            if (a == b) continue;
            pairs.Add(new ResponsePair(prompt, a, b));
            preferences.Add(annotators.Annotate(prompt, a, b));
        }
        var agreement = AgreementReport.Measure(annotators, pairs);
        farm.Log($"preferences: {preferences.Count} pairs, annotators agree with gold {agreement.AgreementWithGold:P1}, with each other {agreement.InterAnnotator:P1}");
        return new AnnotatedPreferences(preferences, agreement);
    }
}
