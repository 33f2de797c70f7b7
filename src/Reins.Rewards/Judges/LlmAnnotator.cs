using Reins.Feedback.Annotators;

namespace Reins.Rewards.Judges;

/// <summary>
/// An LLM judge as a member of an annotator pool (the farm's, for instance), as AlpacaFarm's simulated annotators are
/// LLM prompts: each comparison is the judge's both-orders verdict; a tie goes to the response whose text hashes lower,
/// so the same pair always gets the same answer.
/// </summary>
public sealed class LlmAnnotator(LlmPairwiseJudge judge) : IPairwiseAnnotator
{
    /// <inheritdoc/>
    public string Name => judge.Name;

    /// <inheritdoc/>
    public Preference Compare(string prompt, string first, string second)
    {
        float p = judge.JudgeAsync([(prompt, first, second)]).GetAwaiter().GetResult()[0];
        if (p != 0.5f) return p > 0.5f ? Preference.First : Preference.Second;
        return string.CompareOrdinal(Hash(first), Hash(second)) <= 0 ? Preference.First : Preference.Second;
    }

    private static string Hash(string text) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
}
