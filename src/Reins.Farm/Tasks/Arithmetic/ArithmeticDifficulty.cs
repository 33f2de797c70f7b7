namespace Reins.Farm.Tasks.Arithmetic;

/// <summary>
/// How hard the arithmetic task is: operands have up to <paramref name="Digits"/> digits and a prompt chains 1 to
/// <paramref name="MaxSteps"/> additions or subtractions, with the step count uniform. The default (two digits, up
/// to two steps: "47+38=", "47+38-59=") is a guess, not yet measured, at what a d=128, 4-layer policy with a
/// ≤512-token vocabulary reaches 0.2–0.5 exact match on after pre-training and SFT: single-step two-digit sums are
/// within its reach and chained ones mostly not. Raise <paramref name="Digits"/> or <paramref name="MaxSteps"/> if SFT
/// scores higher, lower them if it scores lower.
/// </summary>
/// <param name="Digits">Largest number of digits of an operand (1 to 6).</param>
/// <param name="MaxSteps">Largest number of + or − operations in a prompt (1 to 4).</param>
public sealed record ArithmeticDifficulty(int Digits = 2, int MaxSteps = 2)
{
    /// <summary>Throws when a setting is outside its range.</summary>
    public void Validate()
    {
        if (Digits is < 1 or > 6) throw new ArgumentOutOfRangeException(nameof(Digits), Digits, "arithmetic operands have 1 to 6 digits");
        if (MaxSteps is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "arithmetic prompts have 1 to 4 operations");
    }
}
