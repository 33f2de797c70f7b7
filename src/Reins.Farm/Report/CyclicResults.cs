using System.Text.Json.Serialization;

namespace Reins.Farm.Report;

/// <summary>A preference model's accuracy on held-out pairs of different styles, labelled by the cycle.</summary>
/// <param name="Model">"bradley_terry" (the proxy reward model), "gpm" or "pair".</param>
/// <param name="Accuracy">Share of pairs whose winner the model prefers (a tie counts half).</param>
public sealed record PairAccuracy(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("accuracy")] double Accuracy);

/// <summary>What a method's held-out responses mix, and how they fare against the best reply to them.</summary>
/// <param name="Method">The method.</param>
/// <param name="Styles">Share of responses in each style, by name.</param>
/// <param name="Other">Share in no one style (mixed or misshapen).</param>
/// <param name="WorstCaseWinRate">
/// The minimum over styles s of the expected gold win-rate of a response against a well-formed reply in s (½ a tie):
/// ½ for the uniform mix of well-formed styles, 0 for a policy always in one style; how much a best response exploits it.
/// </param>
public sealed record StyleMix(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("styles")] IReadOnlyDictionary<string, double> Styles,
    [property: JsonPropertyName("other")] double Other,
    [property: JsonPropertyName("worst_case_win_rate")] double WorstCaseWinRate);

/// <summary>The cyclic study: held-out pair accuracy of each preference model, and every method's style mix.</summary>
/// <param name="HeldOutPairs">Pairs of held-out replies in different styles, a third for each relation of the cycle.</param>
/// <param name="PairAccuracy">Bradley–Terry, GPM and pair model on them.</param>
/// <param name="StyleMix">Every evaluated method's style mix, SFT first.</param>
public sealed record CyclicResults(
    [property: JsonPropertyName("held_out_pairs")] int HeldOutPairs,
    [property: JsonPropertyName("pair_accuracy")] IReadOnlyList<PairAccuracy> PairAccuracy,
    [property: JsonPropertyName("style_mix")] IReadOnlyList<StyleMix> StyleMix);
