using Reins.Farm.Stages;
using Reins.Feedback.Annotators;
using Reins.Tensors;

namespace Reins.Farm.Evaluation;

/// <summary>
/// Win-rate against a baseline as AlpacaEval computes it: per prompt 1 for a win, 0 for a loss and ½ for a tie, averaged.
/// </summary>
public static class WinRate
{
    /// <summary>The outcome of a win.</summary>
    public const double Win = 1;

    /// <summary>The outcome of a tie.</summary>
    public const double Tie = 0.5;

    /// <summary>The outcome of a loss.</summary>
    public const double Loss = 0;

    /// <summary>
    /// Per-prompt outcomes of <paramref name="responses"/> against <paramref name="baseline"/>, judged by one member of
    /// <paramref name="evaluators"/> each. Identical responses tie without a judgement; otherwise the model's response
    /// is shown first or second at random (seeded), as AlpacaEval does, so position bias adds noise but not a shift.
    /// </summary>
    public static double[] Judge(AnnotatorPool evaluators, IReadOnlyList<string> prompts, IReadOnlyList<string> responses,
        IReadOnlyList<string> baseline, ulong seed)
    {
        if (responses.Count != prompts.Count || baseline.Count != prompts.Count)
            throw new ArgumentException($"{prompts.Count} prompts, {responses.Count} responses and {baseline.Count} baseline responses");
        var order = new Rng(seed);
        var outcomes = new double[prompts.Count];
        for (int i = 0; i < outcomes.Length; i++)
        {
            if (responses[i] == baseline[i]) { outcomes[i] = Tie; continue; }
            bool modelFirst = order.NextInt(2) == 0;
            var preferred = modelFirst
                ? evaluators.Compare(prompts[i], responses[i], baseline[i])
                : evaluators.Compare(prompts[i], baseline[i], responses[i]);
            outcomes[i] = (preferred == Preference.First) == modelFirst ? Win : Loss;
        }
        return outcomes;
    }

    /// <summary>The win-rate of per-prompt outcomes (1 win, ½ tie, 0 loss).</summary>
    public static double Of(IReadOnlyList<double> outcomes)
    {
        if (outcomes.Count == 0) throw new ArgumentException("no outcomes", nameof(outcomes));
        if (outcomes.Any(o => o is < 0 or > 1 || double.IsNaN(o))) throw new ArgumentOutOfRangeException(nameof(outcomes), "outcomes lie in [0, 1]");
        return outcomes.Average();
    }
}

/// <summary>A farm task's simulated evaluators judging responses outside a farm run (`reins eval winrate --annotators simulated`).</summary>
public static class SimulatedEvaluators
{
    /// <summary>
    /// Per prompt, 1 when the task's evaluator pool prefers the response, 0 when it prefers the baseline, ½ for identical
    /// texts — as the farm's reports judge win-rates (the order shown to the pool is drawn per prompt from the seed).
    /// </summary>
    public static double[] Judge(string task, IReadOnlyList<string> prompts, IReadOnlyList<string> responses, IReadOnlyList<string> baseline, ulong seed) =>
        WinRate.Judge(PreferenceCollection.Evaluators(task, seed), prompts, responses, baseline, seed + 1);
}
