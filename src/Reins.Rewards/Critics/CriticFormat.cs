using System.Text;
using System.Text.RegularExpressions;

namespace Reins.Rewards.Critics;

/// <summary>
/// How a generative critic is asked and how its answer is read: a prompt template with <c>{problem}</c> and
/// <c>{steps}</c> (the steps numbered from 0, each in <c>&lt;paragraph_i&gt;</c> tags) or <c>{lines}</c> (one "i: step" line
/// each, for models of a short context), and a verdict grammar — a regular
/// expression whose first group, at its last match in the critique, is the index of the earliest wrong step, −1 when
/// the critic finds every step right. The default is ProcessBench's critic prompt, whose verdict is <c>\boxed{i}</c>.
/// A critique without a verdict, or with an index outside −1 … steps−1, has none (<see cref="Verdict"/> is null) and
/// counts as wrong wherever a verdict is scored.
/// </summary>
public sealed class CriticFormat
{
    /// <summary>ProcessBench's prompt for critic models (Zheng et al. 2024, Appendix), paragraphs indexed from 0.</summary>
    public const string ProcessBenchTemplate =
        "The following is a math problem and a solution (split into paragraphs, enclosed with tags and indexed from 0):\n\n" +
        "[Math Problem]\n\n{problem}\n\n[Solution]\n\n{steps}\n\n" +
        "Your task is to review and critique the solution paragraph by paragraph. Once you identify an error in a paragraph, " +
        "return the index of the paragraph where the earliest error occurs. Otherwise, return the index of -1 (which typically denotes \"not found\").\n\n" +
        "Please put your final answer (i.e., the index) in \\boxed{}.";

    /// <summary>The default verdict grammar: <c>\boxed{i}</c>.</summary>
    public const string BoxedVerdict = @"\\boxed\{\s*(-?\d+)\s*\}";

    private readonly Regex verdict;

    /// <summary>A format of <paramref name="template"/> and the verdict <paramref name="verdictPattern"/> (one capture group).</summary>
    public CriticFormat(string template = ProcessBenchTemplate, string verdictPattern = BoxedVerdict)
    {
        if (!template.Contains("{problem}", StringComparison.Ordinal) || !template.Contains("{steps}", StringComparison.Ordinal) && !template.Contains("{lines}", StringComparison.Ordinal))
            throw new ArgumentException("critic template: it must hold {problem} and {steps} (or {lines}).", nameof(template));
        try { verdict = new Regex(verdictPattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)); }
        catch (ArgumentException e) { throw new ArgumentException($"critic verdict pattern '{verdictPattern}': {e.Message}", nameof(verdictPattern)); }
        if (verdict.GetGroupNumbers().Length < 2) throw new ArgumentException($"critic verdict pattern '{verdictPattern}': it needs a group capturing the step index.", nameof(verdictPattern));
        Template = template;
        VerdictPattern = verdictPattern;
    }

    /// <summary>The prompt template.</summary>
    public string Template { get; }

    /// <summary>The verdict grammar.</summary>
    public string VerdictPattern { get; }

    /// <summary>The critic's prompt for a problem and its steps.</summary>
    public string Render(string problem, IReadOnlyList<string> steps)
    {
        var paragraphs = new StringBuilder();
        var lines = new StringBuilder();
        for (int i = 0; i < steps.Count; i++)
        {
            if (i > 0) (paragraphs, lines) = (paragraphs.Append("\n\n"), lines.Append('\n'));
            paragraphs.Append($"<paragraph_{i}>\n{steps[i]}\n</paragraph_{i}>");
            lines.Append($"{i}: {steps[i]}");
        }
        // Replaced in one pass, so a problem that happens to contain "{steps}" stays as written.
        return Regex.Replace(Template, @"\{problem\}|\{steps\}|\{lines\}", m => m.Value switch
        {
            "{problem}" => problem,
            "{steps}" => paragraphs.ToString(),
            _ => lines.ToString(),
        });
    }

    /// <summary>The earliest wrong step the critique names (−1: none), or null when it names no valid one.</summary>
    public int? Verdict(string critique, int steps)
    {
        var matches = verdict.Matches(critique);
        if (matches.Count == 0) return null;
        return int.TryParse(matches[^1].Groups[1].ValueSpan, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out int index)
            && index >= -1 && index < steps ? index : null;
    }
}
