using System.Text.RegularExpressions;
using Reins.Farm.Tasks;
using Reins.Farm.Tasks.Arithmetic;
using Reins.Rewards.Sources;

namespace Reins.Farm.Tests;

public sealed class ArithmeticTaskTests
{
    private static readonly ArithmeticTask Task = new();

    [Fact]
    public void GoldIsExactMatchOfTheFirstNumber()
    {
        Assert.Equal(26, ArithmeticTask.Evaluate("47+38-59="));
        Assert.Equal(1.0, Task.Gold("47+38-59=", "26"));
        Assert.Equal(1.0, Task.Gold("47+38-59=", " 26."));
        Assert.Equal(1.0, Task.Gold("47+38-59=", "it is 26"));
        Assert.Equal(0.0, Task.Gold("47+38-59=", "27"));
        Assert.Equal(0.0, Task.Gold("47+38-59=", "260"));
        Assert.Equal(0.0, Task.Gold("47+38-59=", "25 26"));
        Assert.Equal(0.0, Task.Gold("47+38-59=", ""));
        Assert.Equal(0.0, Task.Gold("47+38-59=", "99999999999999999999999"));
        Assert.Equal(1.0, Task.Gold("5-5=", "0"));
        Assert.Throws<ArgumentException>(() => Task.Gold("what is 2+2?", "4"));
    }

    [Fact]
    public void PromptsCarryTheirAnswerAndStayNonNegative()
    {
        foreach (var p in Task.Prompts(FarmSplit.Train, 500, 1))
        {
            string answer = p.Extra[ArithmeticTask.AnswerField].GetString()!;
            Assert.Equal(ArithmeticTask.Evaluate(p.Prompt.Text!).ToString(), answer);
            Assert.True(long.Parse(answer) >= 0);
            Assert.Equal(1.0, Task.Gold(p.Prompt.Text!, answer));
            Assert.Matches(@"^\d{1,2}([+-]\d{1,2}){1,2}=$", p.Prompt.Text!);
        }
        var steps = Task.Prompts(FarmSplit.Train, 1000, 2).Select(p => Regex.Matches(p.Prompt.Text!, "[+-]").Count).ToList();
        Assert.InRange(steps.Count(s => s == 1), 400, 600);
    }

    [Fact]
    public void DifficultyIsAKnob()
    {
        var easy = new ArithmeticTask(new ArithmeticDifficulty(Digits: 1, MaxSteps: 1));
        Assert.All(easy.Prompts(FarmSplit.Train, 200, 1), p => Assert.Matches(@"^\d[+-]\d=$", p.Prompt.Text!));
        var hard = new ArithmeticTask(new ArithmeticDifficulty(Digits: 3, MaxSteps: 3));
        Assert.Contains(hard.Prompts(FarmSplit.Train, 200, 1), p => Regex.IsMatch(p.Prompt.Text!, @"^\d{3}([+-]\d+){3}=$"));
        Assert.Contains("3 additions", hard.Description.Replace("1 to 3 additions", "3 additions"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArithmeticTask(new ArithmeticDifficulty(Digits: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArithmeticTask(new ArithmeticDifficulty(MaxSteps: 5)));
    }

    [Fact]
    public void DemonstrationsAndCorpusAreSolvedProblems()
    {
        Assert.All(Task.Demonstrations(200, 1), d => Assert.Equal(1.0, Task.Gold(d.Prompt.Text!, d.Completion.Text!)));
        Assert.All(Task.PretrainingCorpus(200, 1), doc =>
        {
            int eq = doc.IndexOf('=');
            Assert.Equal(1.0, Task.Gold(doc[..(eq + 1)], doc[(eq + 1)..]));
        });
    }

    [Fact]
    public void GoldRewardSourceScoresCompletionsWithTheGoldReward()
    {
        var source = new GoldRewardSource(Task);
        var empty = new Dictionary<string, System.Text.Json.JsonElement>();
        var scores = source.Score([new ScoringRequest("2+3=", "5", [], [], true, empty), new ScoringRequest("2+3=", "6", [], [], true, empty)]);
        Assert.Equal([1f, 0f], scores);
        Assert.Equal("gold", source.Name);
    }
}
