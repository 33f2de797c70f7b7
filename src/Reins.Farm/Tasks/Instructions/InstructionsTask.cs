using System.Text.RegularExpressions;
using Reins.Feedback.Annotators;
using Reins.Feedback.Datasets;
using Reins.Feedback.Sampling;
using Reins.Tensors;

namespace Reins.Farm.Tasks.Instructions;

/// <summary>
/// Tiny instructions with one to three checkable constraints (word count, case, keyword, bullet list), as in IFEval.
/// Demonstrations meet each constraint with probability <see cref="SatisfyProbability"/>, so SFT satisfies some; the
/// gold reward is the share satisfied. "At most N words" constraints pull against annotators that prefer longer
/// answers, the setting in which length bias and the length-controlled win-rate matter.
/// </summary>
public sealed partial class InstructionsTask : IFarmTask
{
    /// <summary>The chance that a demonstration meets each of its prompt's constraints.</summary>
    public const double SatisfyProbability = 0.6;

    /// <summary>The longest response, in words, that demonstrations write; keeps responses within ~24 tokens.</summary>
    public const int MaxWords = 8;

    private const int MaxUppercaseWords = 4;

    // Short, common words: a ≤512-token BPE then spends few tokens on them even in uppercase.
    private static readonly (string Name, string[] Words)[] Topics =
    [
        ("rain", ["rain", "grey", "cloud", "wet", "road", "drop"]),
        ("the sea", ["sea", "wave", "salt", "sand", "wind", "ship"]),
        ("a cat", ["cat", "purr", "soft", "fur", "nap", "paw"]),
        ("bread", ["bread", "warm", "crust", "oven", "fresh", "jam"]),
        ("winter", ["snow", "ice", "cold", "dark", "fire", "frost"]),
        ("a garden", ["rose", "green", "soil", "bee", "grass", "seed"]),
        ("the moon", ["moon", "night", "pale", "star", "sky", "tide"]),
        ("a train", ["train", "track", "fast", "steam", "seat", "late"]),
        ("coffee", ["coffee", "hot", "cup", "bean", "milk", "bitter"]),
        ("a forest", ["tree", "moss", "path", "bird", "shade", "pine"]),
        ("music", ["song", "drum", "loud", "note", "dance", "beat"]),
        ("a dog", ["dog", "bark", "run", "ball", "park", "tail"]),
    ];

    /// <summary>Keywords to include; none is a topic word, so a response holds one only when it means to.</summary>
    internal static readonly string[] Keywords = ["gold", "friend", "home", "dream", "simple", "small", "bright", "slow", "strange", "kind"];

    /// <inheritdoc/>
    public string Name => "instructions";

    /// <inheritdoc/>
    public string Description =>
        "Write a few words about a topic under one to three checkable constraints: a word count (at most, at least, exactly), " +
        "all lowercase or all uppercase, a keyword to include, a bullet list of N points (e.g. \"Write about rain. Use at most " +
        $"5 words. Write in lowercase.\"). Gold reward = share of constraints satisfied. Demonstrations meet each constraint " +
        $"with probability {SatisfyProbability}. Word-count limits pull against annotators that prefer longer answers.";

    /// <inheritdoc/>
    public bool IsVerifiable => false;

    /// <summary>Annotators and evaluators prefer longer answers, as AlpacaFarm's did: the bias the length-controlled win-rate removes.</summary>
    public double LengthBias => 0.02;

    private sealed record Instruction(string Topic, string[] TopicWords, InstructionConstraint[] Constraints)
    {
        public string Text => $"Write about {Topic}. " + string.Join(' ', Constraints.Select(c => c.Instruction));
    }

    /// <summary>One to three constraints of distinct kinds, in random order.</summary>
    private static Instruction DrawInstruction(Rng rng)
    {
        var (topic, words) = Topics[rng.NextInt(Topics.Length)];
        var constraints = Permutation.Shuffled(4, rng.NextUInt64()).Take(1 + rng.NextInt(3)).Select(kind => kind switch
        {
            // Limits from 3 up leave room for a bullet list of up to 3 one-word points.
            0 => rng.NextInt(3) switch
            {
                0 => new WordCountConstraint(CountRelation.AtMost, 3 + rng.NextInt(4)),
                1 => new WordCountConstraint(CountRelation.AtLeast, 3 + rng.NextInt(4)),
                _ => (InstructionConstraint)new WordCountConstraint(CountRelation.Exactly, 3 + rng.NextInt(4)),
            },
            1 => new CaseConstraint(rng.NextInt(2) == 1),
            2 => new KeywordConstraint(Keywords[rng.NextInt(Keywords.Length)]),
            _ => new BulletListConstraint(2 + rng.NextInt(2)),
        }).ToArray();
        return new Instruction(topic, words, constraints);
    }

    private static readonly TaskGenerators<Instruction> Generators = new(DrawInstruction, i => i.Text, Respond);

    /// <inheritdoc/>
    public IReadOnlyList<PromptOnlyExample> Prompts(FarmSplit split, int count, ulong seed) => Generators.Prompts(split, count, seed);

    /// <inheritdoc/>
    public IReadOnlyList<PromptCompletionExample> Demonstrations(int count, ulong seed) => Generators.Demonstrations(count, seed);

    /// <summary>Documents that are either a training prompt or a response on its own (<see cref="TaskGenerators{TProblem}.PromptOrResponseCorpus"/>).</summary>
    public IReadOnlyList<string> PretrainingCorpus(int documents, ulong seed) => Generators.PromptOrResponseCorpus(documents, seed);

    [GeneratedRegex(@"[^.]+\.")]
    private static partial Regex SentencePattern();

    /// <summary>The constraints a prompt of this task states, in order.</summary>
    public static IReadOnlyList<InstructionConstraint> Constraints(string prompt) =>
        [.. SentencePattern().Matches(prompt).Skip(1).Select(m => InstructionConstraint.Parse(m.Value.Trim()))];

    /// <inheritdoc/>
    /// <remarks>No constraint met rates 1, all met rates 7.</remarks>
    public RatingScale RatingScale => new(0, 1);

    /// <inheritdoc/>
    public double Gold(string prompt, string response)
    {
        var constraints = Constraints(prompt);
        if (constraints.Count == 0) throw new ArgumentException($"not an instructions prompt: \"{prompt}\"", nameof(prompt));
        return constraints.Count(c => c.IsSatisfiedBy(response)) / (double)constraints.Count;
    }

    /// <summary>
    /// A response about the topic that meets each constraint with probability <see cref="SatisfyProbability"/> and
    /// visibly breaks the others: a wrong word count, sentence case (which breaks either case constraint), no keyword,
    /// or prose instead of a list.
    /// </summary>
    private static string Respond(Rng rng, Instruction instruction)
    {
        bool Meets() => rng.NextDouble() < SatisfyProbability;
        var count = instruction.Constraints.OfType<WordCountConstraint>().FirstOrDefault();
        var casing = instruction.Constraints.OfType<CaseConstraint>().FirstOrDefault();
        var keyword = instruction.Constraints.OfType<KeywordConstraint>().FirstOrDefault();
        var bullets = instruction.Constraints.OfType<BulletListConstraint>().FirstOrDefault();
        bool meetsCount = Meets(), meetsCase = Meets(), meetsKeyword = Meets(), meetsBullets = Meets();

        // A small BPE learns lowercase words and spells uppercase ones almost letter by letter, so uppercase answers
        // are kept to a few words to stay within the ~24-token response budget, unless the word count asks for more.
        bool uppercase = casing is { Uppercase: true } && meetsCase;
        int fewest = bullets is not null && meetsBullets ? bullets.Items : 1;
        int most = uppercase ? MaxUppercaseWords : MaxWords;
        var lengths = Lengths(fewest, most, count, meetsCount);
        if (lengths.Count == 0) lengths = Lengths(fewest, MaxWords, count, meetsCount);
        // Breaking "at least 3 words" while keeping a 3-point list is impossible; keep the list and meet the count.
        if (lengths.Count == 0) lengths = Lengths(fewest, MaxWords, count, meets: true);
        int length = lengths[rng.NextInt(lengths.Count)];

        var words = new List<string>(length);
        var order = Permutation.Shuffled(instruction.TopicWords.Length, rng.NextUInt64());
        for (int k = 0; k < length; k++) words.Add(instruction.TopicWords[order[k % order.Length]]);
        if (keyword is not null && meetsKeyword) words[rng.NextInt(length)] = keyword.Keyword;

        Func<string, string> style = casing is not null && meetsCase
            ? (casing.Uppercase ? s => s.ToUpperInvariant() : s => s)
            : casing is null && rng.NextInt(2) == 0 ? s => s : SentenceCase;
        if (bullets is not null && meetsBullets)
        {
            // Spread the words over the points as evenly as possible, the first points taking the remainder.
            var lines = new List<string>(bullets.Items);
            for (int b = 0, taken = 0; b < bullets.Items; b++)
            {
                int size = length / bullets.Items + (b < length % bullets.Items ? 1 : 0);
                lines.Add(BulletListConstraint.Bullet + style(string.Join(' ', words.Skip(taken).Take(size))));
                taken += size;
            }
            return string.Join('\n', lines);
        }
        return style(string.Join(' ', words)) + ".";
    }

    /// <summary>Word counts from <paramref name="fewest"/> to <paramref name="most"/> that meet (or break) the count constraint; 3–6 without one.</summary>
    private static List<int> Lengths(int fewest, int most, WordCountConstraint? count, bool meets) =>
        [.. Enumerable.Range(fewest, Math.Max(0, most - fewest + 1)).Where(k => count is null ? k is >= 3 and <= 6 : count.Accepts(k) == meets)];

    private static string SentenceCase(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
}
