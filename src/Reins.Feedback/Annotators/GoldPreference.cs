namespace Reins.Feedback.Annotators;

/// <summary>
/// The truth a simulated annotator judges by: a gold reward of one response and, for preferences that no single reward
/// expresses (a cycle among response styles), a gold margin of one response over another. Without a pair margin the
/// margin is the difference of the two rewards, the Bradley–Terry case.
/// </summary>
/// <param name="Reward">The gold reward of a response to a prompt (what pointwise ratings and length bias build on).</param>
/// <param name="PairMargin">How much more the first response is wanted than the second, on the reward's scale; antisymmetric.</param>
public sealed record GoldPreference(Func<string, string, double> Reward, Func<string, string, string, double>? PairMargin = null)
{
    /// <summary>The gold margin of <paramref name="first"/> over <paramref name="second"/>.</summary>
    public double Margin(string prompt, string first, string second) => PairMargin?.Invoke(prompt, first, second) ?? Reward(prompt, first) - Reward(prompt, second);
}
