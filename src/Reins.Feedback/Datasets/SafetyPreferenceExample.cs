namespace Reins.Feedback.Datasets;

/// <summary>
/// A safety preference (PKU-SafeRLHF, Ji et al. 2024): two responses to one prompt, which is more helpful
/// (<c>better_response_id</c>), which is safer (<c>safer_response_id</c>), and whether each is safe
/// (<c>is_response_k_safe</c>). One record gives the reward model a helpfulness pair and the cost model a safety pair.
/// </summary>
/// <param name="Prompt">The request.</param>
/// <param name="Responses">The two responses, response_0 and response_1.</param>
/// <param name="IsSafe">Whether each response is safe.</param>
/// <param name="BetterId">Which response is more helpful (0 or 1).</param>
/// <param name="SaferId">Which response is safer (0 or 1).</param>
public sealed record SafetyPreferenceExample(TextOrConversation Prompt, IReadOnlyList<TextOrConversation> Responses, IReadOnlyList<bool> IsSafe, int BetterId, int SaferId) : Example
{
    /// <summary>The helpfulness pair, the more helpful response chosen, as the reward model learns it.</summary>
    public PreferenceExample Helpfulness() => new(Prompt, Responses[BetterId], Responses[1 - BetterId]) { Extra = Extra, Line = Line };

    /// <summary>The safety pair, the safer response chosen (the cost model ranks the other higher).</summary>
    public PreferenceExample Safety() => new(Prompt, Responses[SaferId], Responses[1 - SaferId]) { Extra = Extra, Line = Line };

    /// <summary>Splits safety-preference records into the reward model's helpfulness pairs and the cost model's safety pairs.</summary>
    public static (IReadOnlyList<PreferenceExample> Helpfulness, IReadOnlyList<PreferenceExample> Safety) Split(IEnumerable<SafetyPreferenceExample> records)
    {
        var all = records.ToArray();
        return ([.. all.Select(r => r.Helpfulness())], [.. all.Select(r => r.Safety())]);
    }
}

/// <summary>A single response with a safety label (BeaverTails, Ji et al. 2023): <c>{"prompt", "response", "is_safe"}</c>.</summary>
/// <param name="Prompt">The request.</param>
/// <param name="Response">The response.</param>
/// <param name="IsSafe">Whether the response is safe.</param>
public sealed record SafetyLabelExample(TextOrConversation Prompt, TextOrConversation Response, bool IsSafe) : Example;
