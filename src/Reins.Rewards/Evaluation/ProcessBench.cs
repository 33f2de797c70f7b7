using System.Text.Json;
using Reins.Rewards.ProcessRewards;

namespace Reins.Rewards.Evaluation;

/// <summary>
/// ProcessBench's protocol (Zheng et al. 2024, "ProcessBench: Identifying Process Errors in Mathematical Reasoning"):
/// each record is a solution whose <c>label</c> is the index of its earliest wrong step, −1 when every step is right. A
/// judge predicts that index; <see cref="ProcessBenchResult"/> scores the predictions as the paper does.
/// </summary>
public static class ProcessBench
{
    /// <summary>A ProcessBench record: the solution and the index of its earliest wrong step (−1: none).</summary>
    public sealed record Item(StepRecord Record, int Label);

    /// <summary>
    /// Reads ProcessBench's JSONL (<c>{"id", "generator", "problem", "steps", "final_answer_correct", "label"}</c>; only
    /// <c>problem</c>, <c>steps</c> and <c>label</c> are required). A label outside −1 … len(steps)−1 is an error naming
    /// the file and line.
    /// </summary>
    public static IReadOnlyList<Item> Read(string path)
    {
        var items = new List<Item>();
        foreach (var record in StepRecords.Read(path))
        {
            int steps = record.Solution.Steps.Count;
            string where = $"{path}:{record.Line}: field \"label\"";
            if (record.Fields["label"] is not { } node) throw new InvalidDataException($"{where}: missing (the index of the earliest wrong step, -1 for none).");
            if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<int>(out int label))
                throw new InvalidDataException($"{where}: expected an integer, got {node.ToJsonString()}.");
            if (label < -1 || label >= steps) throw new InvalidDataException($"{where}: {label} is not -1 or a step index of the {steps} steps (0 … {steps - 1}).");
            items.Add(new Item(record, label));
        }
        if (items.Count == 0) throw new InvalidDataException($"{path}: no records.");
        return items;
    }

    /// <summary>A PRM's prediction: the first step scored below <paramref name="threshold"/>, −1 when none is (unscored steps are skipped).</summary>
    public static int Prediction(IReadOnlyList<float?> stepScores, double threshold)
    {
        for (int i = 0; i < stepScores.Count; i++)
            if (stepScores[i] is { } score && score < threshold) return i;
        return -1;
    }

    /// <summary>
    /// The threshold on a grid of 0.005 … 0.995 that maximises F1 on <paramref name="calibration"/> (ties: the one
    /// nearest ½), for <c>--threshold auto</c>.
    /// </summary>
    public static double ChooseThreshold(IReadOnlyList<(int Label, IReadOnlyList<float?> Scores)> calibration)
    {
        double best = 0.5, bestF1 = double.NegativeInfinity;
        for (int k = 1; k < 200; k++)
        {
            double threshold = k / 200.0;
            double f1 = ProcessBenchResult.Of(calibration.Select(c => (c.Label, Prediction(c.Scores, threshold)))).F1 ?? 0;
            if (f1 > bestF1 + 1e-12 || Math.Abs(f1 - bestF1) <= 1e-12 && Math.Abs(threshold - 0.5) < Math.Abs(best - 0.5)) (best, bestF1) = (threshold, f1);
        }
        return best;
    }
}

/// <summary>
/// ProcessBench's scores over a set of predictions: <see cref="ErrorAccuracy"/>, the fraction of wrong solutions whose
/// earliest wrong step is named exactly; <see cref="CorrectAccuracy"/>, the fraction of right solutions judged right
/// (−1); and their harmonic mean <see cref="F1"/>, the paper's headline number. An accuracy over no solutions is null.
/// </summary>
/// <param name="Erroneous">Solutions with a wrong step.</param>
/// <param name="Correct">Solutions without one.</param>
/// <param name="ErrorHits">Wrong solutions whose earliest wrong step was predicted exactly.</param>
/// <param name="CorrectHits">Right solutions predicted −1.</param>
public sealed record ProcessBenchResult(int Erroneous, int Correct, int ErrorHits, int CorrectHits)
{
    /// <summary>Exact earliest-error accuracy on the wrong solutions.</summary>
    public double? ErrorAccuracy => Erroneous == 0 ? null : (double)ErrorHits / Erroneous;

    /// <summary>Accuracy on the right solutions.</summary>
    public double? CorrectAccuracy => Correct == 0 ? null : (double)CorrectHits / Correct;

    /// <summary>The harmonic mean of the two accuracies; 0 when both are 0, null when either is undefined.</summary>
    public double? F1 => (ErrorAccuracy, CorrectAccuracy) switch
    {
        ({ } e, { } c) => e + c == 0 ? 0 : 2 * e * c / (e + c),
        _ => null,
    };

    /// <summary>Counts (label, prediction) pairs.</summary>
    public static ProcessBenchResult Of(IEnumerable<(int Label, int Prediction)> outcomes)
    {
        int erroneous = 0, correct = 0, errorHits = 0, correctHits = 0;
        foreach (var (label, prediction) in outcomes)
        {
            if (label >= 0) { erroneous++; if (prediction == label) errorHits++; }
            else { correct++; if (prediction == -1) correctHits++; }
        }
        return new ProcessBenchResult(erroneous, correct, errorHits, correctHits);
    }
}
