using System.Globalization;
using System.Text.RegularExpressions;

namespace Reins.Farm.Tasks.Arithmetic;

/// <summary>
/// Step-by-step solutions of the arithmetic task (one operation per line, then the answer: "47+38-59=" →
/// "47+38=85", "85-59=26", "#### 26") and the gold checker of their steps, which process supervision is measured
/// against. A step is right when it is the chain's next operation computed correctly from the true running total, and
/// every step before it is right: after the first error no step can lead to the answer, as Math-Shepherd's labels mean
/// with a perfect completer. The answer line is right when it follows every operation and gives the value.
/// </summary>
public static partial class ArithmeticSteps
{
    /// <summary>What starts the answer line (GSM8K's convention, read by the exact_match reward).</summary>
    public const string AnswerMarker = "#### ";

    [GeneratedRegex(@"^(\d+)((?:[+-]\d+)+)=$")]
    private static partial Regex PromptPattern();

    [GeneratedRegex(@"[+-]\d+")]
    private static partial Regex OperationPattern();

    // The first operand and the signed operations of a prompt.
    private static (long First, long[] Operations) Parse(string prompt)
    {
        var match = PromptPattern().Match(prompt.Trim());
        if (!match.Success) throw new ArgumentException($"not an arithmetic prompt: \"{prompt}\"", nameof(prompt));
        return (long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture),
            [.. OperationPattern().Matches(match.Groups[2].Value).Select(m => long.Parse(m.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture))]);
    }

    /// <summary>The value of a prompt ("47+38-59=" → 26).</summary>
    internal static long Value(string prompt)
    {
        var (first, operations) = Parse(prompt);
        return first + operations.Sum();
    }

    private static string Operation(long total, long operation, long result) =>
        string.Create(CultureInfo.InvariantCulture, $"{total}{(operation < 0 ? '-' : '+')}{Math.Abs(operation)}={result}");

    /// <summary>The correct steps of <paramref name="prompt"/>: each operation on its own line, then the answer line.</summary>
    public static IReadOnlyList<string> Solution(string prompt)
    {
        var (total, operations) = Parse(prompt);
        var steps = new List<string>();
        foreach (long operation in operations)
        {
            steps.Add(Operation(total, operation, total + operation));
            total += operation;
        }
        steps.Add(AnswerMarker + total.ToString(CultureInfo.InvariantCulture));
        return steps;
    }

    /// <summary>The gold label of each step of <paramref name="steps"/> (a solution to <paramref name="prompt"/>).</summary>
    public static bool[] Labels(string prompt, IReadOnlyList<string> steps)
    {
        var expected = Solution(prompt);
        var labels = new bool[steps.Count];
        for (int i = 0; i < steps.Count && i < expected.Count && steps[i].Trim() == expected[i]; i++) labels[i] = true;
        return labels;
    }

    /// <summary>
    /// ProcessBench's label of a solution: the index of its earliest wrong step, −1 when every step is right and the
    /// answer given; null for a solution whose steps are all right but stop before the answer (ProcessBench has none).
    /// </summary>
    public static int? EarliestError(string prompt, IReadOnlyList<string> steps)
    {
        int first = Array.IndexOf(Labels(prompt, steps), false);
        return first >= 0 ? first : steps.Count == Solution(prompt).Count ? -1 : null;
    }

    /// <summary>1 when the response's last answer line gives the prompt's value, else 0.</summary>
    public static double Gold(string prompt, string response)
    {
        long value = Value(prompt);
        int at = response.LastIndexOf(AnswerMarker.TrimEnd(), StringComparison.Ordinal);
        if (at < 0) return 0;
        string given = response[(at + AnswerMarker.TrimEnd().Length)..].Trim();
        int end = given.IndexOf('\n');
        if (end >= 0) given = given[..end].Trim();
        return long.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out long answer) && answer == value ? 1 : 0;
    }
}
