namespace Reins.Farm.Tasks.Reviews;

/// <summary>
/// The words of the reviews world and the sentiment lexicon the project owns: each opinion word carries a polarity
/// in −2…2, as the ratings of lexicon-based sentiment analysers such as VADER (Hutto and Gilbert 2014) do.
/// </summary>
internal static class ReviewLexicon
{
    public static readonly string[] Items =
        ["kettle", "toaster", "blender", "lamp", "backpack", "jacket", "keyboard", "chair", "tent", "bike",
         "camera", "phone", "watch", "mug", "pillow", "umbrella", "printer", "speaker", "desk", "bottle"];

    public static readonly string[] Aspects = ["price", "design", "quality", "size", "color", "weight"];

    // Positive and negative words mirror each other in number and strength, so reviews whose sentences are drawn
    // positive, negative and neutral with equal odds average to a neutral sentiment.
    public static readonly Dictionary<string, double> Adjectives = new()
    {
        ["excellent"] = 2, ["great"] = 2, ["good"] = 1, ["nice"] = 1, ["solid"] = 1,
        ["fine"] = 0, ["okay"] = 0, ["average"] = 0,
        ["poor"] = -1, ["bad"] = -1, ["flimsy"] = -1, ["awful"] = -2, ["terrible"] = -2,
    };

    public static readonly Dictionary<string, double> Verbs = new()
    {
        ["love"] = 2, ["like"] = 1, ["recommend"] = 1, ["dislike"] = -1, ["regret"] = -1, ["hate"] = -2,
    };

    public static readonly Dictionary<string, double> Manners = new()
    {
        ["perfectly"] = 2, ["well"] = 1, ["badly"] = -1, ["terribly"] = -2,
    };

    public static readonly string[] Intensifiers = ["very", "really"];

    /// <summary>The negator; "not" also serves "do not" before verbs.</summary>
    public const string Not = "not";

    /// <summary>A word's polarity, 0 for words without one.</summary>
    public static double Polarity(string word) =>
        Adjectives.TryGetValue(word, out double p) || Verbs.TryGetValue(word, out p) || Manners.TryGetValue(word, out p) ? p : 0;

    /// <summary>
    /// Words that grammatical reviews repeat by construction (articles, pronouns, copulas, the negator), which the
    /// repetition penalty ignores.
    /// </summary>
    public static readonly HashSet<string> StructureWords = ["the", "this", "is", "it", "i", "do", "not", "and", "overall", "works", "."];
}
