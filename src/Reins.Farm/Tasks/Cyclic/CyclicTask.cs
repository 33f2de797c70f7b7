using Reins.Feedback.Annotators;
using Reins.Feedback.Datasets;
using Reins.Tensors;

namespace Reins.Farm.Tasks.Cyclic;

/// <summary>
/// Short replies ("Reply to Ann about the trip tonight:") in one of three styles, each with its own words — formal
/// ("certainly indeed kindly"), casual ("sure yeah cool") and playful ("yay wow hooray") — that people prefer in a
/// cycle: formal beats casual, casual beats playful, playful beats formal. A response is well formed when it is three
/// to six words of one style; that is the gold reward (1 or 0), and the cycle decides between two well-formed
/// responses of different styles. Demonstrations use the three styles equally often (15% of them mixed), so SFT starts
/// at the game's equilibrium, the uniform mix, whose worst-case win-rate against any style is ½; a policy that
/// collapses to one style loses to the style that beats it.
/// </summary>
public sealed class CyclicTask : ICyclicTask
{
    private const double MixedProbability = 0.15;
    private const int MinWords = 3, MaxWords = 6;

    private static readonly string[][] Words =
    [
        ["certainly", "indeed", "kindly", "regards", "sincerely", "gladly", "respectfully", "truly"],
        ["sure", "yeah", "cool", "okay", "fine", "yep", "alright", "nice"],
        ["yay", "wow", "woohoo", "hooray", "yippee", "whee", "haha", "ooh"],
    ];

    private static readonly string[] Names = ["Ann", "Bob", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jo", "Kim", "Lea", "Max", "Nia", "Otto", "Pia"];
    private static readonly string[] Topics = ["lunch", "the game", "the trip", "the book", "the rain", "work"];
    private static readonly string[] Times = ["", " today", " tonight", " tomorrow", " this week"];

    private sealed record Request(string Name, string Topic, string Time)
    {
        public string Text => $"Reply to {Name} about {Topic}{Time}:";
    }

    /// <inheritdoc/>
    public string Name => "cyclic";

    /// <inheritdoc/>
    public string Description =>
        "Reply to a friend (\"Reply to Ann about the trip tonight:\") in one of three styles with their own words: formal " +
        "(\"certainly indeed kindly\"), casual (\"sure yeah cool\"), playful (\"yay wow hooray\"). People prefer them in a cycle: " +
        "formal beats casual, casual beats playful, playful beats formal. Gold reward = 1 for three to six words of one style, " +
        "0 otherwise; between two well-formed replies of different styles the cycle decides (margin 1). Demonstrations use the " +
        "styles equally often, 15% mixed. No reward explains a cycle: a Bradley–Terry model fits at most two of its three " +
        "relations, and the policy that cannot be beaten is the uniform mix (worst-case win-rate 1/2 against any style).";

    /// <inheritdoc/>
    public bool IsVerifiable => false;

    /// <inheritdoc/>
    public double LengthBias => 0;

    /// <inheritdoc/>
    /// <remarks>A misshapen reply rates 1, a well-formed one 7.</remarks>
    public RatingScale RatingScale => new(0, 1);

    /// <inheritdoc/>
    public IReadOnlyList<string> Styles { get; } = ["formal", "casual", "playful"];

    private static Request Draw(Rng rng) => new(Names[rng.NextInt(Names.Length)], Topics[rng.NextInt(Topics.Length)], Times[rng.NextInt(Times.Length)]);

    private static readonly TaskGenerators<Request> Generators = new(Draw, r => r.Text, (rng, _) => Demonstrate(rng));

    /// <inheritdoc/>
    public IReadOnlyList<PromptOnlyExample> Prompts(FarmSplit split, int count, ulong seed) => Generators.Prompts(split, count, seed);

    /// <inheritdoc/>
    public IReadOnlyList<PromptCompletionExample> Demonstrations(int count, ulong seed) => Generators.Demonstrations(count, seed);

    /// <inheritdoc/>
    public IReadOnlyList<string> PretrainingCorpus(int documents, ulong seed) => Generators.PromptOrResponseCorpus(documents, seed);

    // A uniformly chosen style, or (15%) words of any style.
    private static string Demonstrate(Rng rng)
    {
        if (rng.NextDouble() >= MixedProbability) return Reply(rng, rng.NextInt(Words.Length));
        int words = MinWords + rng.NextInt(MaxWords - MinWords + 1);
        return string.Join(' ', Enumerable.Range(0, words).Select(_ => Pick(rng, Words[rng.NextInt(Words.Length)])));
    }

    private static string Reply(Rng rng, int style)
    {
        int words = MinWords + rng.NextInt(MaxWords - MinWords + 1);
        return string.Join(' ', Enumerable.Range(0, words).Select(_ => Pick(rng, Words[style])));
    }

    private static string Pick(Rng rng, string[] words) => words[rng.NextInt(words.Length)];

    /// <inheritdoc/>
    public string Respond(Rng rng, int style) => Reply(rng, style);

    /// <inheritdoc/>
    public int? StyleOf(string response)
    {
        var words = response.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length is < MinWords or > MaxWords) return null;
        for (int style = 0; style < Words.Length; style++)
            if (words.All(w => Words[style].Contains(w, StringComparer.Ordinal))) return style;
        return null;
    }

    /// <inheritdoc/>
    public double Gold(string prompt, string response) => StyleOf(response) is null ? 0 : 1;

    /// <inheritdoc/>
    public double GoldMargin(string prompt, string first, string second)
    {
        var (a, b) = (StyleOf(first), StyleOf(second));
        double cycle = a is { } x && b is { } y && x != y ? (y == (x + 1) % Words.Length ? 1 : -1) : 0;
        return Gold(prompt, first) - Gold(prompt, second) + cycle;
    }
}
