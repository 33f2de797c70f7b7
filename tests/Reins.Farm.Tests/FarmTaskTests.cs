using Reins.Farm.Tasks;
using Reins.Models.Tokenizers;

namespace Reins.Farm.Tests;

/// <summary>Properties every built-in task must have, whatever its world.</summary>
public sealed class FarmTaskTests
{
    public static TheoryData<string> TaskNames => [.. FarmTasks.All.Select(t => t.Name)];

    [Theory, MemberData(nameof(TaskNames))]
    public void GeneratorsAreDeterminedBySeed(string name)
    {
        var task = FarmTasks.Get(name);
        static string[] Texts<T>(IEnumerable<T> xs, Func<T, string> f) => [.. xs.Select(f)];
        Assert.Equal(Texts(task.Prompts(FarmSplit.Train, 50, 1), p => p.Prompt.Text!), Texts(task.Prompts(FarmSplit.Train, 50, 1), p => p.Prompt.Text!));
        Assert.NotEqual(Texts(task.Prompts(FarmSplit.Train, 50, 1), p => p.Prompt.Text!), Texts(task.Prompts(FarmSplit.Train, 50, 2), p => p.Prompt.Text!));
        Assert.Equal(Texts(task.Demonstrations(50, 1), d => d.Prompt.Text + "|" + d.Completion.Text), Texts(task.Demonstrations(50, 1), d => d.Prompt.Text + "|" + d.Completion.Text));
        Assert.NotEqual(Texts(task.Demonstrations(50, 1), d => d.Prompt.Text + "|" + d.Completion.Text), Texts(task.Demonstrations(50, 3), d => d.Prompt.Text + "|" + d.Completion.Text));
        Assert.Equal(task.PretrainingCorpus(50, 1), task.PretrainingCorpus(50, 1));
        Assert.NotEqual(task.PretrainingCorpus(50, 1), task.PretrainingCorpus(50, 4));
    }

    [Theory, MemberData(nameof(TaskNames))]
    public void EvaluationPromptsNeverAppearInTrainingData(string name)
    {
        var task = FarmTasks.Get(name);
        var eval = task.Prompts(FarmSplit.Eval, 300, 5).Select(p => p.Prompt.Text!).ToHashSet();
        Assert.All(eval, p => Assert.True(PromptSampler.IsIn(FarmSplit.Eval, p)));
        Assert.DoesNotContain(task.Prompts(FarmSplit.Train, 1000, 5), p => eval.Contains(p.Prompt.Text!));
        Assert.DoesNotContain(task.Demonstrations(1000, 6), d => eval.Contains(d.Prompt.Text!));
        // Corpus documents are prompts, responses or (arithmetic) prompts followed by their answer.
        Assert.DoesNotContain(task.PretrainingCorpus(1000, 7), doc => eval.Any(p => doc.StartsWith(p, StringComparison.Ordinal) && doc[p.Length..].All(char.IsDigit)));
    }

    [Theory, MemberData(nameof(TaskNames))]
    public void TextIsShortAsciiForASmallBpe(string name)
    {
        var task = FarmTasks.Get(name);
        var demos = task.Demonstrations(1500, 1);
        var corpus = task.PretrainingCorpus(3000, 2);
        Assert.All(corpus.Concat(demos.SelectMany(d => new[] { d.Prompt.Text!, d.Completion.Text! })), t => Assert.True(t.All(char.IsAscii), t));
        var tokenizer = Tokenizer.TrainByteLevelBpe(corpus.Concat(demos.Select(d => d.Prompt.Text + "\n" + d.Completion.Text)), 512, ["<|bos|>", "<|eos|>", "<|pad|>"]);
        Assert.All(demos, d => Assert.InRange(tokenizer.Encode(d.Prompt.Text!).Length, 1, 40));
        double withinBudget = demos.Count(d => tokenizer.Encode(d.Completion.Text!).Length <= 24) / (double)demos.Count;
        Assert.True(withinBudget >= 0.97, $"only {withinBudget:P1} of {name} demonstrations fit in 24 tokens");
    }

    [Theory, MemberData(nameof(TaskNames))]
    public void GoldRewardIsAFiniteFunctionOfPromptAndResponse(string name)
    {
        var task = FarmTasks.Get(name);
        foreach (var d in task.Demonstrations(200, 9))
        {
            double gold = task.Gold(d.Prompt.Text!, d.Completion.Text!);
            Assert.True(double.IsFinite(gold));
            Assert.Equal(gold, task.Gold(d.Prompt.Text!, d.Completion.Text!));
        }
    }

    [Theory, MemberData(nameof(TaskNames))]
    public void RatingScaleSeparatesGoodDemonstrationsFromEmptyAnswers(string name)
    {
        var task = FarmTasks.Get(name);
        var demos = task.Demonstrations(300, 10);
        var best = demos.MaxBy(d => task.Gold(d.Prompt.Text!, d.Completion.Text!))!;
        Assert.Equal(7, task.RatingScale.ToRating(task.Gold(best.Prompt.Text!, best.Completion.Text!)));
        Assert.True(task.RatingScale.ToRating(task.Gold(best.Prompt.Text!, "")) <= 3);
    }

    [Fact]
    public void TasksAreFoundByUniqueName()
    {
        Assert.Equal(["reviews", "arithmetic", "instructions", "arithmetic-steps", "safety", "cyclic", "pluralistic"], FarmTasks.All.Select(t => t.Name));
        Assert.Same(FarmTasks.All[1], FarmTasks.Get("arithmetic"));
        Assert.Contains("reviews", Assert.Throws<ArgumentException>(() => FarmTasks.Get("poetry")).Message);
        Assert.All(FarmTasks.All, t => Assert.False(string.IsNullOrWhiteSpace(t.Description)));
        Assert.Equal([false, true, false, true, false, false, false], FarmTasks.All.Select(t => t.IsVerifiable));
    }

    [Fact]
    public void SplitsHoldAboutTheEvalFractionOfPrompts()
    {
        var task = FarmTasks.Get("instructions");
        var prompts = task.Prompts(FarmSplit.Train, 4000, 1).Concat(task.Prompts(FarmSplit.Eval, 1000, 1)).Select(p => p.Prompt.Text!).Distinct().ToList();
        double eval = prompts.Count(p => PromptSampler.IsIn(FarmSplit.Eval, p)) / (double)prompts.Count;
        Assert.InRange(eval, PromptSampler.EvalFraction - 0.05, PromptSampler.EvalFraction + 0.05);
    }

    [Theory, MemberData(nameof(TaskNames))]
    public void DevelopmentAndTestPromptsSplitTheHeldOutOnesWithoutOverlap(string name)
    {
        var task = FarmTasks.Get(name);
        var development = task.Prompts(FarmSplit.Development, 300, 5).Select(p => p.Prompt.Text!).ToHashSet();
        var test = task.Prompts(FarmSplit.Test, 300, 5).Select(p => p.Prompt.Text!).ToHashSet();
        Assert.Empty(development.Intersect(test));
        Assert.All(development.Concat(test), p => Assert.True(PromptSampler.IsIn(FarmSplit.Eval, p)));
        // Tuning and reporting draw different prompts whatever seeds each uses.
        Assert.DoesNotContain(task.Prompts(FarmSplit.Test, 1000, 9), p => development.Contains(p.Prompt.Text!));
        // The held-out prompts of a config that reserves none are both kinds.
        var eval = task.Prompts(FarmSplit.Eval, 1000, 9).Select(p => p.Prompt.Text!).ToList();
        Assert.Contains(eval, development.Contains);
        Assert.Contains(eval, p => !development.Contains(p));
    }
}
