using System.Text.Json.Serialization;
using Reins.Feedback.Annotators;

namespace Reins.Farm.Report;

/// <summary>
/// results.json's "annotators": how the training pool agreed with the gold preference and with itself. The κ fields
/// extend the schema (its §2 asks for them in every run) and are omitted when null.
/// </summary>
/// <param name="AgreementWithGold">Share of labels picking the response with the higher gold reward.</param>
/// <param name="InterAnnotator">Raw agreement averaged over pairs of annotators.</param>
/// <param name="CohensKappa">Cohen's κ averaged over pairs of annotators.</param>
/// <param name="FleissKappa">Fleiss' κ of the pool.</param>
/// <param name="ExternalMembers">Names of the pool's members from outside the simulator (an LLM judge); omitted when none.</param>
public sealed record AnnotatorResults(
    [property: JsonPropertyName("agreement_with_gold")] double AgreementWithGold,
    [property: JsonPropertyName("inter_annotator")] double InterAnnotator,
    [property: JsonPropertyName("cohens_kappa"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? CohensKappa = null,
    [property: JsonPropertyName("fleiss_kappa"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? FleissKappa = null,
    [property: JsonPropertyName("external_members"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? ExternalMembers = null)
{
    /// <summary>The fields of an agreement measurement, and the pool's members from outside the simulator, if any.</summary>
    public static AnnotatorResults From(AgreementReport report, IReadOnlyList<IPairwiseAnnotator>? external = null) =>
        new(report.AgreementWithGold, report.InterAnnotator, report.CohensKappa, report.FleissKappa, external is { Count: > 0 } ? [.. external.Select(a => a.Name)] : null);
}
