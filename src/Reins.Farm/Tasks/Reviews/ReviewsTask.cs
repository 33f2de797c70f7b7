using Reins.Feedback.Annotators;
using Reins.Feedback.Datasets;
using Reins.Tensors;

namespace Reins.Farm.Tasks.Reviews;

/// <summary>
/// Short product reviews. Demonstrations are grammatical reviews whose sentences are positive, negative or neutral
/// with equal odds, so SFT is neutral on average; the simulated humans want positive, fluent, non-repetitive reviews
/// (<see cref="ReviewScore"/>), which leaves RLHF room to improve and a reward model room to be fooled.
/// </summary>
public sealed class ReviewsTask : IFarmTask
{
    private const double MentionAspectProbability = 0.5;
    private const int MaxSentences = 3;

    /// <inheritdoc/>
    public string Name => "reviews";

    /// <inheritdoc/>
    public string Description =>
        "Write a short review of an item (e.g. \"Write a review of the kettle that mentions its price.\"). Gold reward = " +
        "sentiment (tanh of summed polarities from the task's lexicon, with negation and intensifiers) + fluency (share " +
        "of tokens in sentences the task's grammar generates) - repetition (share of repeated content words); range " +
        "about -2 to 2. Demonstrations are grammatical and of mixed sentiment, so SFT scores about 0.7-1 and a fluent, " +
        "varied, positive review about 1.9. A reward model learns sentiment easily and fluency only approximately.";

    /// <inheritdoc/>
    public bool IsVerifiable => false;

    /// <inheritdoc/>
    public double LengthBias => 0;

    private sealed record ReviewPrompt(string Item, string? Aspect)
    {
        public string Text => Aspect is null ? $"Write a review of the {Item}." : $"Write a review of the {Item} that mentions its {Aspect}.";
    }

    private static ReviewPrompt DrawPrompt(Rng rng)
    {
        string item = ReviewLexicon.Items[rng.NextInt(ReviewLexicon.Items.Length)];
        return new ReviewPrompt(item, rng.NextDouble() < MentionAspectProbability ? ReviewLexicon.Aspects[rng.NextInt(ReviewLexicon.Aspects.Length)] : null);
    }

    private static readonly TaskGenerators<ReviewPrompt> Generators = new(DrawPrompt, p => p.Text, Review);

    /// <inheritdoc/>
    public IReadOnlyList<PromptOnlyExample> Prompts(FarmSplit split, int count, ulong seed) => Generators.Prompts(split, count, seed);

    /// <inheritdoc/>
    public IReadOnlyList<PromptCompletionExample> Demonstrations(int count, ulong seed) => Generators.Demonstrations(count, seed);

    /// <summary>Documents that are either a training prompt or a review on its own (<see cref="TaskGenerators{TProblem}.PromptOrResponseCorpus"/>).</summary>
    public IReadOnlyList<string> PretrainingCorpus(int documents, ulong seed) => Generators.PromptOrResponseCorpus(documents, seed);

    /// <inheritdoc/>
    /// <remarks>Negative or broken reviews rate 1; a fluent, varied, positive one (≈1.9) rates 7.</remarks>
    public RatingScale RatingScale => new(-1, 2);

    /// <inheritdoc/>
    public double Gold(string prompt, string response) => ReviewScore.Of(response).Total;

    /// <summary>
    /// One to three sentences, each positive, neutral or negative with equal odds; a prompt that names an aspect gets
    /// a first sentence about it.
    /// </summary>
    private static string Review(Rng rng, ReviewPrompt prompt)
    {
        int sentences = 1 + rng.NextInt(MaxSentences);
        return string.Join(' ', Enumerable.Range(0, sentences).Select(i =>
            ReviewGrammar.Sentence(rng, prompt.Item, rng.NextInt(3) - 1, i == 0 ? prompt.Aspect : null)));
    }
}
