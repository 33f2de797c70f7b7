using Reins.Feedback.Annotators;
using Reins.Feedback.Datasets;
using Reins.Tensors;

namespace Reins.Farm.Tasks.Pluralistic;

/// <summary>
/// One-sentence reviews ("The lamp is bright, sturdy and noisy.") judged by two groups: three quarters of the people
/// want praise — half a point per positive adjective up to two, minus half a point per negative one — and a quarter
/// want brevity — one point for four words, a quarter less for each word beyond. A reply both groups like exists (two
/// positive adjectives, briefly: "The lamp is bright and sturdy."), but three in four labels speak for praise alone, so
/// a reward model of the pooled labels hears little of the minority (MaxMin-RLHF's sentiment-and-conciseness setting). A reply without an adjective is no review to either (−1). Demonstrations have one to four adjectives, each positive or
/// negative with equal odds.
/// </summary>
public sealed class PluralisticTask : IPluralisticTask
{
    private const int MaxAdjectives = 4;

    private static readonly string[] Items =
        ["lamp", "chair", "phone", "kettle", "jacket", "bike", "desk", "camera", "tent", "clock", "radio", "mug", "sofa", "watch", "bag", "fan", "oven", "boot", "hat", "pen"];
    private static readonly string[] Requests =
        ["Review the {0}{1}.", "Describe the {0}{1}.", "What is the {0}{1} like?", "Tell me about the {0}{1}.", "Rate the {0}{1}.", "How is the {0}{1}?", "Judge the {0}{1}.", "Assess the {0}{1}."];
    private static readonly string[] Whose = ["", " I bought", " in the shop", " from my aunt", " on sale"];
    private static readonly string[] Positive = ["bright", "sturdy", "handy", "lovely", "clean", "quiet", "light", "smart"];
    private static readonly string[] Negative = ["dull", "flimsy", "noisy", "ugly", "broken", "heavy", "slow", "dirty"];

    private sealed record Request(string Item, string Template, string Whose)
    {
        public string Text => string.Format(Template, Item, Whose);
    }

    /// <inheritdoc/>
    public string Name => "pluralistic";

    /// <inheritdoc/>
    public string Description =>
        "Write a one-sentence review (\"Describe the lamp.\" -> \"The lamp is bright, sturdy and noisy.\"). Two groups of people: " +
        "75% want praise (0.5 per distinct positive adjective up to two, -0.5 per negative one), 25% want brevity (1 for " +
        "four words or fewer, -0.25 per word beyond); a reply with no adjective is no review (-1 for both). Gold reward = the population's mean, 0.75 x praise + 0.25 x brevity. " +
        "Each simulated annotator belongs to one group and judges by its reward; the pluralistic study reports each " +
        "group's gold and win-rate. \"The lamp is bright and sturdy.\" scores 1 and 0.5; an adjective beyond two costs the " +
        "minority and gains the majority nothing.";

    /// <inheritdoc/>
    public bool IsVerifiable => false;

    /// <inheritdoc/>
    public double LengthBias => 0;

    /// <inheritdoc/>
    /// <remarks>Four negative adjectives rate 1; two positive ones in a short sentence rate 7.</remarks>
    public RatingScale RatingScale => new(-1.5, 0.875);

    /// <inheritdoc/>
    public IReadOnlyList<AnnotatorGroup> Groups { get; } = [new("praise", 0.75, (_, r) => Praise(r)), new("brevity", 0.25, (_, r) => Brevity(r))];

    private static Request Draw(Rng rng) => new(Items[rng.NextInt(Items.Length)], Requests[rng.NextInt(Requests.Length)], Whose[rng.NextInt(Whose.Length)]);

    private static readonly TaskGenerators<Request> Generators = new(Draw, r => r.Text, Review);

    /// <inheritdoc/>
    public IReadOnlyList<PromptOnlyExample> Prompts(FarmSplit split, int count, ulong seed) => Generators.Prompts(split, count, seed);

    /// <inheritdoc/>
    public IReadOnlyList<PromptCompletionExample> Demonstrations(int count, ulong seed) => Generators.Demonstrations(count, seed);

    /// <inheritdoc/>
    public IReadOnlyList<string> PretrainingCorpus(int documents, ulong seed) => Generators.PromptOrResponseCorpus(documents, seed);

    // "The lamp is a, b and c." with one to four adjectives, each positive or negative with equal odds.
    private static string Review(Rng rng, Request request)
    {
        int count = 1 + rng.NextInt(MaxAdjectives);
        var adjectives = Enumerable.Range(0, count).Select(_ => rng.NextInt(2) == 0 ? Positive[rng.NextInt(Positive.Length)] : Negative[rng.NextInt(Negative.Length)]).ToArray();
        string list = count == 1 ? adjectives[0] : string.Join(", ", adjectives[..^1]) + " and " + adjectives[^1];
        return $"The {request.Item} is {list}.";
    }

    private static string[] Words(string response) => response.Split([' ', ',', '.'], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// The majority's gold: 0.5 per distinct positive adjective up to two, −0.5 per negative adjective; −1 for a reply
    /// that says nothing of the item (no adjective), which neither group counts as a review.
    /// </summary>
    public static double Praise(string response)
    {
        var words = Words(response);
        return IsReview(words) ? 0.5 * Math.Min(2, words.Where(Positive.Contains).Distinct().Count()) - 0.5 * words.Count(Negative.Contains) : -1;
    }

    /// <summary>The minority's gold: 1 for a review of at most four words, a quarter less per word beyond; −1 for no review.</summary>
    public static double Brevity(string response)
    {
        var words = Words(response);
        return IsReview(words) ? 1 - 0.25 * Math.Max(0, words.Length - 4) : -1;
    }

    private static bool IsReview(string[] words) => words.Any(w => Positive.Contains(w) || Negative.Contains(w));

    /// <inheritdoc/>
    public double Gold(string prompt, string response) => Groups.Sum(g => g.Share * g.Gold(prompt, response));
}
