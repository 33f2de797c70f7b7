using System.Globalization;
using System.Text.RegularExpressions;

namespace Reins.Farm.Tasks.Instructions;

/// <summary>How a word count is bounded.</summary>
public enum CountRelation
{
    /// <summary>No more than the limit.</summary>
    AtMost,

    /// <summary>No fewer than the limit.</summary>
    AtLeast,

    /// <summary>Exactly the limit.</summary>
    Exactly,
}

/// <summary>"Use at most / at least / exactly N words."</summary>
/// <param name="Relation">How the count is bounded.</param>
/// <param name="Limit">The bound.</param>
public sealed partial record WordCountConstraint(CountRelation Relation, int Limit) : InstructionConstraint
{
    /// <inheritdoc/>
    public override string Instruction => $"Use {Phrase(Relation)} {Limit} words.";

    /// <inheritdoc/>
    public override bool IsSatisfiedBy(string response) => Accepts(Words(response).Length);

    /// <summary>True when a response of <paramref name="words"/> words meets the constraint.</summary>
    public bool Accepts(int words) => Relation switch
    {
        CountRelation.AtMost => words <= Limit,
        CountRelation.AtLeast => words >= Limit,
        _ => words == Limit,
    };

    private static string Phrase(CountRelation relation) => relation switch
    {
        CountRelation.AtMost => "at most",
        CountRelation.AtLeast => "at least",
        _ => "exactly",
    };

    [GeneratedRegex(@"^Use (at most|at least|exactly) (\d+) words\.$")]
    private static partial Regex Pattern();

    /// <summary>The constraint a sentence states, or null when it states another kind.</summary>
    public static WordCountConstraint? TryParse(string sentence)
    {
        var m = Pattern().Match(sentence);
        if (!m.Success) return null;
        var relation = Enum.GetValues<CountRelation>().First(r => Phrase(r) == m.Groups[1].Value);
        return new WordCountConstraint(relation, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }
}
