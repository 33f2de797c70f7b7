using System.Text.RegularExpressions;

namespace Reins.Farm.Tasks.Instructions;

/// <summary>"Include the word W.": some word of the response, ignoring case and punctuation, is W.</summary>
/// <param name="Keyword">The lowercase word to include.</param>
public sealed partial record KeywordConstraint(string Keyword) : InstructionConstraint
{
    /// <inheritdoc/>
    public override string Instruction => $"Include the word {Keyword}.";

    // Case is ignored so that the keyword and an uppercase constraint can both be met.
    /// <inheritdoc/>
    public override bool IsSatisfiedBy(string response) =>
        Words(response).Any(w => string.Equals(new string([.. w.Where(char.IsLetterOrDigit)]), Keyword, StringComparison.OrdinalIgnoreCase));

    [GeneratedRegex(@"^Include the word ([a-z]+)\.$")]
    private static partial Regex Pattern();

    /// <summary>The constraint a sentence states, or null when it states another kind.</summary>
    public static KeywordConstraint? TryParse(string sentence)
    {
        var m = Pattern().Match(sentence);
        return m.Success ? new KeywordConstraint(m.Groups[1].Value) : null;
    }
}
