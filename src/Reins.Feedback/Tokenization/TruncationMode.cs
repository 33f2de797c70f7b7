namespace Reins.Feedback.Tokenization;

/// <summary>Which end of a prompt+completion sequence survives <see cref="TokenizationOptions.MaxLength"/> (TRL's <c>truncation_mode</c>).</summary>
public enum TruncationMode
{
    /// <summary>Keep the first tokens (TRL's <c>keep_start</c>): the prompt survives, the completion's tail is cut.</summary>
    KeepStart,
    /// <summary>Keep the last tokens (TRL's <c>keep_end</c>, DPO's default): the completion survives, the prompt's head is cut.</summary>
    KeepEnd,
}
