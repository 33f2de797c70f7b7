namespace Reins.Farm.Tasks.Instructions;

/// <summary>"Write in lowercase." or "Write in uppercase.": every letter of the response in that case, and at least one letter.</summary>
/// <param name="Uppercase">True for uppercase, false for lowercase.</param>
public sealed record CaseConstraint(bool Uppercase) : InstructionConstraint
{
    private const string LowercaseInstruction = "Write in lowercase.";
    private const string UppercaseInstruction = "Write in uppercase.";

    /// <inheritdoc/>
    public override string Instruction => Uppercase ? UppercaseInstruction : LowercaseInstruction;

    /// <inheritdoc/>
    public override bool IsSatisfiedBy(string response) =>
        response.Any(char.IsLetter) && !response.Any(Uppercase ? char.IsLower : char.IsUpper);

    /// <summary>The constraint a sentence states, or null when it states another kind.</summary>
    public static CaseConstraint? TryParse(string sentence) => sentence switch
    {
        LowercaseInstruction => new CaseConstraint(false),
        UppercaseInstruction => new CaseConstraint(true),
        _ => null,
    };
}
