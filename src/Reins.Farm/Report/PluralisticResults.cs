using System.Text.Json.Serialization;

namespace Reins.Farm.Report;

/// <summary>One group of a pluralistic task as the farm simulated it.</summary>
/// <param name="Name">The group.</param>
/// <param name="Share">Its share of the population.</param>
/// <param name="Annotators">Training annotators in it.</param>
public sealed record GroupInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("share")] double Share,
    [property: JsonPropertyName("annotators")] int Annotators);

/// <summary>A method's held-out responses as one group sees them.</summary>
/// <param name="Gold">Mean of the group's gold reward.</param>
/// <param name="WinRate">Win-rate against SFT judged by evaluators of the group alone (null for SFT).</param>
public sealed record GroupOutcome(
    [property: JsonPropertyName("gold")] double Gold,
    [property: JsonPropertyName("win_rate")] double? WinRate);

/// <summary>One method's outcome for each group.</summary>
public sealed record GroupOutcomes(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("groups")] IReadOnlyDictionary<string, GroupOutcome> Groups);

/// <summary>The pluralistic study: the groups, how well the EM mixture found them, and every method per group.</summary>
/// <param name="Groups">The task's groups.</param>
/// <param name="AssignmentAccuracy">Share of annotators the EM mixture put with their own group (best matching of components to groups).</param>
/// <param name="Methods">Every evaluated method, SFT first.</param>
public sealed record PluralisticResults(
    [property: JsonPropertyName("groups")] IReadOnlyList<GroupInfo> Groups,
    [property: JsonPropertyName("assignment_accuracy")] double AssignmentAccuracy,
    [property: JsonPropertyName("methods")] IReadOnlyList<GroupOutcomes> Methods);
