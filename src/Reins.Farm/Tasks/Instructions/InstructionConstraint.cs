namespace Reins.Farm.Tasks.Instructions;

/// <summary>
/// A checkable constraint of the instructions task, in the spirit of IFEval (Zhou et al. 2023): one sentence of the
/// prompt and a programmatic check of the response. Each kind owns both its sentence and its parser.
/// </summary>
public abstract record InstructionConstraint
{
    /// <summary>The sentence of the prompt that states the constraint, e.g. "Use at most 5 words."</summary>
    public abstract string Instruction { get; }

    /// <summary>True when <paramref name="response"/> meets the constraint.</summary>
    public abstract bool IsSatisfiedBy(string response);

    /// <summary>The constraint stated by one sentence of a prompt.</summary>
    public static InstructionConstraint Parse(string sentence) =>
        WordCountConstraint.TryParse(sentence) ?? CaseConstraint.TryParse(sentence) ?? KeywordConstraint.TryParse(sentence)
        ?? BulletListConstraint.TryParse(sentence) as InstructionConstraint
        ?? throw new FormatException($"not an instruction constraint: \"{sentence}\"");

    /// <summary>The response's words: whitespace-separated pieces holding a letter or digit (bullet dashes are not words).</summary>
    public static string[] Words(string response) =>
        response.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Where(w => w.Any(char.IsLetterOrDigit)).ToArray();
}
