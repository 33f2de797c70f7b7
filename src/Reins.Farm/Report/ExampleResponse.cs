namespace Reins.Farm.Report;

/// <summary>One method's response to one evaluation prompt, for the report's side-by-side table.</summary>
/// <param name="Prompt">The evaluation prompt.</param>
/// <param name="Method">The method that responded.</param>
/// <param name="Response">The sampled response.</param>
/// <param name="GoldReward">Its gold reward.</param>
public sealed record ExampleResponse(string Prompt, string Method, string Response, double GoldReward);
