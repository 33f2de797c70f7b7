namespace Reins.Feedback.Annotators;

/// <summary>Which of two responses, in the order they were shown, an annotator preferred.</summary>
public enum Preference
{
    /// <summary>The response shown first.</summary>
    First,

    /// <summary>The response shown second.</summary>
    Second,
}
