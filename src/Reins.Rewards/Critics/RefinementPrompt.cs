namespace Reins.Rewards.Critics;

/// <summary>
/// What a policy is shown to refine a solution given its critique, after Critique-GRPO's refinement instruction
/// (Zhang et al. 2025, Appendix M): the question, the previous solution, the critique, and the request to re-answer.
/// Critique-GRPO's refinements, `reins critique --refine` and RefCritic's refinement reward all use it.
/// </summary>
public static class RefinementPrompt
{
    /// <summary>The prompt for <paramref name="question"/>, its <paramref name="solution"/> and the <paramref name="critique"/> of it.</summary>
    public static string Render(string question, string solution, string critique) =>
        $"Question: {question}\nPrevious solution: {solution}\nCritique: {critique}\n" +
        "Please re-answer, correcting the errors the critique identifies, with clear step-by-step reasoning.\n";
}
