namespace Reins.Feedback.Datasets;

/// <summary>
/// A ranked list of completions for one prompt: <c>{"prompt": …, "completions": [...], "ranks": [2, 1, 3]}</c>, where a
/// lower rank is better and equal ranks are ties (InstructGPT's K-way rankings).
/// </summary>
/// <param name="Prompt">The shared input.</param>
/// <param name="Completions">The ranked completions.</param>
/// <param name="Ranks">One rank per completion.</param>
public sealed record RankedExample(TextOrConversation Prompt, IReadOnlyList<TextOrConversation> Completions, IReadOnlyList<int> Ranks) : Example
{
    /// <summary>
    /// Every strictly ordered pair as a preference (the K·(K−1)/2 comparisons of InstructGPT §3.5, fewer with ties),
    /// ordered by the index of the better completion; the pairs keep the record's extra fields and line.
    /// </summary>
    public IEnumerable<PreferenceExample> ToPreferencePairs()
    {
        for (int i = 0; i < Completions.Count; i++)
            for (int j = 0; j < Completions.Count; j++)
                if (Ranks[i] < Ranks[j])
                    yield return new PreferenceExample(Prompt, Completions[i], Completions[j]) { Extra = Extra, Line = Line };
    }
}
