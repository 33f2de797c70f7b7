using System.Globalization;
using System.Text.RegularExpressions;

namespace Reins.Farm.Tasks.Instructions;

/// <summary>"Answer as a list of N bullet points.": exactly N non-empty lines, each "- " followed by a word.</summary>
/// <param name="Items">The number of bullet points.</param>
public sealed partial record BulletListConstraint(int Items) : InstructionConstraint
{
    /// <summary>What starts a bullet line.</summary>
    public const string Bullet = "- ";

    /// <inheritdoc/>
    public override string Instruction => $"Answer as a list of {Items} bullet points.";

    /// <inheritdoc/>
    public override bool IsSatisfiedBy(string response)
    {
        var lines = response.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        return lines.Length == Items && lines.All(l => l.StartsWith(Bullet, StringComparison.Ordinal) && Words(l).Length > 0);
    }

    [GeneratedRegex(@"^Answer as a list of (\d+) bullet points\.$")]
    private static partial Regex Pattern();

    /// <summary>The constraint a sentence states, or null when it states another kind.</summary>
    public static BulletListConstraint? TryParse(string sentence)
    {
        var m = Pattern().Match(sentence);
        return m.Success ? new BulletListConstraint(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)) : null;
    }
}
