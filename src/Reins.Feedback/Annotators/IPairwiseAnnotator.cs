namespace Reins.Feedback.Annotators;

/// <summary>
/// A member of an <see cref="AnnotatorPool"/>: anyone who says which of two responses to a prompt is better — a
/// simulated annotator, or an external one such as an LLM judge.
/// </summary>
public interface IPairwiseAnnotator
{
    /// <summary>Name used in reports.</summary>
    string Name { get; }

    /// <summary>Which of the two responses, in the order shown, this annotator prefers.</summary>
    Preference Compare(string prompt, string first, string second);
}
