using Reins.Farm.Tasks;
using Reins.Farm.Tasks.Reviews;

namespace Reins.Farm.Tests;

public sealed class ReviewsTaskTests
{
    private static readonly ReviewsTask Task = new();
    private const string Prompt = "Write a review of the kettle.";
    private static double Gold(string response) => Task.Gold(Prompt, response);

    [Fact]
    public void PositiveReviewsBeatNegativeOnes()
    {
        Assert.True(Gold("i love this kettle. the price is very good. it works well.") > Gold("i hate this kettle. the price is very bad. it works badly.") + 1.5);
        Assert.True(Gold("the price is good.") > Gold("the price is okay.") && Gold("the price is okay.") > Gold("the price is bad."));
        // Negation flips a word's polarity, intensifiers strengthen it.
        Assert.True(Gold("the price is not good.") < Gold("the price is okay."));
        Assert.True(Gold("the price is very good.") > Gold("the price is good."));
    }

    [Fact]
    public void UngrammaticalAndRepetitiveReviewsScoreLower()
    {
        const string fluent = "i love this kettle. the price is very good. it works well.";
        Assert.Equal(1.0, ReviewScore.Of(fluent).Fluency);
        Assert.Equal(0.0, ReviewScore.Of(fluent).Repetition);
        // The same words in the wrong order: same sentiment, no fluency.
        var scrambled = ReviewScore.Of("good very is price the. kettle this love i. well works it.");
        Assert.Equal(0.0, scrambled.Fluency);
        Assert.True(Gold("good very is price the. kettle this love i. well works it.") < Gold(fluent) - 0.9);
        // An unfinished last sentence counts as ungrammatical: 5 of 8 tokens are in a finished sentence.
        Assert.Equal(5 / 8.0, ReviewScore.Of("i love this kettle. the price is").Fluency, 12);
        // Repetition: two of the four content words (love, kettle) repeat.
        var repeated = ReviewScore.Of("i love this kettle. i love this kettle.");
        Assert.Equal(0.5, repeated.Repetition, 12);
        Assert.True(Gold("i love this kettle. i love this kettle. i love this kettle.") < Gold(fluent));
        // Opinion-word spam: what a reward model that learned only sentiment would push a policy towards.
        Assert.True(Gold("great great great great great great") < Gold(fluent) - 1);
        Assert.True(Gold("excellent great perfect love nice good.") < Gold(fluent) - 0.5);
        Assert.Equal(0.0, Gold(""));
    }

    [Fact]
    public void DemonstrationsAreGrammaticalAndNeutralOnAverage()
    {
        var demos = Task.Demonstrations(3000, 2);
        var scores = demos.Select(d => ReviewScore.Of(d.Completion.Text!)).ToList();
        Assert.All(scores, s => Assert.Equal(1.0, s.Fluency));
        Assert.InRange(scores.Average(s => s.Sentiment), -0.1, 0.1);
        // Room to improve: SFT-like text scores well below a fluent, varied, positive review.
        Assert.InRange(demos.Average(d => Task.Gold(d.Prompt.Text!, d.Completion.Text!)), 0.7, 1.1);
        Assert.True(Gold("i love this kettle. the price is really excellent. it works very well.") > 1.9);
        // A prompt that names an aspect gets a review that mentions it.
        Assert.All(demos.Where(d => d.Prompt.Text!.Contains("mentions its")), d =>
            Assert.Contains(d.Prompt.Text!.Split(' ')[^1].TrimEnd('.'), d.Completion.Text!));
    }

    [Fact]
    public void CorpusMixesPromptsAndReviews()
    {
        var corpus = Task.PretrainingCorpus(400, 3);
        int prompts = corpus.Count(d => d.StartsWith("Write a review", StringComparison.Ordinal));
        Assert.InRange(prompts, 60, 140);
        Assert.All(corpus.Where(d => !d.StartsWith("Write", StringComparison.Ordinal)), d => Assert.Equal(1.0, ReviewScore.Of(d).Fluency));
    }
}
