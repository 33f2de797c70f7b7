namespace Reins.Feedback.Datasets;

/// <summary>
/// Absolute ratings of one response on named attributes, as in HelpSteer (<c>{"prompt", "response", "helpfulness": 3,
/// "correctness": 4, …}</c>), the input of multi-attribute regression reward models.
/// </summary>
/// <param name="Prompt">The input.</param>
/// <param name="Response">The rated response.</param>
/// <param name="Attributes">Attribute names, the same list (and order) for every record of a dataset.</param>
/// <param name="Ratings">One value per attribute, in the order of <paramref name="Attributes"/>.</param>
public sealed record RatingExample(TextOrConversation Prompt, TextOrConversation Response, IReadOnlyList<string> Attributes, IReadOnlyList<double> Ratings) : Example
{
    /// <summary>The rating of one attribute by name.</summary>
    public double this[string attribute]
    {
        get
        {
            for (int i = 0; i < Attributes.Count; i++) if (Attributes[i] == attribute) return Ratings[i];
            throw new KeyNotFoundException($"No rating attribute \"{attribute}\"; the dataset has {string.Join(", ", Attributes)}.");
        }
    }
}
