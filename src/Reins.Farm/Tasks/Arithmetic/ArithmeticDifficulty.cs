namespace Reins.Farm.Tasks.Arithmetic;

/// <summary>
/// How hard the arithmetic task is: operands have up to <paramref name="Digits"/> digits and a prompt chains 1 to
/// <paramref name="MaxSteps"/> additions or subtractions, with the step count uniform. The default (one digit, up to
/// two steps: "4+8=", "4+8-5=") was measured: the farm's d=128, 4-layer SFT policy reaches 0.39 exact match on it
/// (seed 1), inside the 0.2–0.5 band that leaves RL room to improve; two digits gave 0.02. Raise
/// <paramref name="Digits"/> or <paramref name="MaxSteps"/> if SFT scores higher, lower them if it scores lower.
/// </summary>
/// <param name="Digits">Largest number of digits of an operand (1 to 6).</param>
/// <param name="MaxSteps">Largest number of + or − operations in a prompt (1 to 4).</param>
public sealed record ArithmeticDifficulty(int Digits = 1, int MaxSteps = 2)
{
    /// <summary>Throws when a setting is outside its range.</summary>
    public void Validate()
    {
        if (Digits is < 1 or > 6) throw new ArgumentOutOfRangeException(nameof(Digits), Digits, "arithmetic operands have 1 to 6 digits");
        if (MaxSteps is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "arithmetic prompts have 1 to 4 operations");
    }
}
