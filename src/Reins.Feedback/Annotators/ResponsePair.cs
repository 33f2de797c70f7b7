namespace Reins.Feedback.Annotators;

/// <summary>Two responses to one prompt, in the order an annotator sees them.</summary>
/// <param name="Prompt">The prompt both respond to.</param>
/// <param name="First">The response shown first.</param>
/// <param name="Second">The response shown second.</param>
public sealed record ResponsePair(string Prompt, string First, string Second);
