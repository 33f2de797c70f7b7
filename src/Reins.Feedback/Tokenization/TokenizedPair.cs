namespace Reins.Feedback.Tokenization;

/// <summary>A tokenized preference: prompt+chosen and prompt+rejected, each labelled on its completion only.</summary>
/// <param name="Chosen">The preferred sequence.</param>
/// <param name="Rejected">The dispreferred sequence.</param>
public sealed record TokenizedPair(TokenizedSequence Chosen, TokenizedSequence Rejected)
{
    /// <summary>
    /// Estimated win-rates P̂(y ≻ π) of the chosen and the rejected response against the policy's samples (SPPO's
    /// chosen_probs_win and chosen_probs_lose), or null.
    /// </summary>
    public (float Chosen, float Rejected)? WinRates { get; init; }
}
