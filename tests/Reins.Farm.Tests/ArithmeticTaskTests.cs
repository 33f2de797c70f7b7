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

    [Fact]
    public void StepByStepSolutionsAndTheirGoldStepLabels()
    {
        Assert.Equal(["47+38=85", "85-59=26", "#### 26"], ArithmeticSteps.Solution("47+38-59="));
        Assert.Equal([true, true, true], ArithmeticSteps.Labels("47+38-59=", ["47+38=85", " 85-59=26", "#### 26"]));
        // A wrong sum at step 0: that step and every later one are wrong, even the later arithmetic that is right.
        Assert.Equal([false, false, false], ArithmeticSteps.Labels("47+38-59=", ["47+38=86", "86-59=27", "#### 27"]));
        // Right arithmetic on the wrong operand: "85+59" is not the chain's next operation.
        Assert.Equal([true, false, false], ArithmeticSteps.Labels("47+38-59=", ["47+38=85", "85+59=144", "#### 144"]));
        Assert.Equal(1, ArithmeticSteps.EarliestError("47+38-59=", ["47+38=85", "85+59=144", "#### 144"]));
        Assert.Equal(-1, ArithmeticSteps.EarliestError("47+38-59=", ["47+38=85", "85-59=26", "#### 26"]));
        // An answer line too early, one too many, or none at all.
        Assert.Equal(1, ArithmeticSteps.EarliestError("47+38-59=", ["47+38=85", "#### 26"]));
        Assert.Equal(3, ArithmeticSteps.EarliestError("47+38-59=", ["47+38=85", "85-59=26", "#### 26", "#### 26"]));
        Assert.Null(ArithmeticSteps.EarliestError("47+38-59=", ["47+38=85", "85-59=26"]));

        Assert.Equal(1.0, ArithmeticSteps.Gold("47+38-59=", "47+38=85\n85-59=26\n#### 26"));
        Assert.Equal(1.0, ArithmeticSteps.Gold("47+38-59=", "#### 3\n#### 26"));
        Assert.Equal(0.0, ArithmeticSteps.Gold("47+38-59=", "47+38=85\n85-59=26"));
        Assert.Equal(0.0, ArithmeticSteps.Gold("47+38-59=", "#### 26x"));
        Assert.Equal(0.0, ArithmeticSteps.Gold("47+38-59=", "#### -26"));
    }

    [Fact]
    public void TheStepByStepTaskTeachesAndRewardsWholeSolutions()
    {
        var steps = new ArithmeticTask(stepByStep: true);
        Assert.Equal("arithmetic-steps", steps.Name);
        Assert.Same(FarmTasks.Get("arithmetic-steps").GetType(), steps.GetType());
        Assert.All(steps.Demonstrations(100, 1), d =>
        {
            Assert.Equal(1.0, steps.Gold(d.Prompt.Text!, d.Completion.Text!));
            Assert.Equal(-1, ArithmeticSteps.EarliestError(d.Prompt.Text!, d.Completion.Text!.Split('\n')));
        });
        Assert.All(steps.PretrainingCorpus(50, 2), doc => Assert.Contains("\n#### ", doc));
        // The same prompts as the direct task, which the gold reward of each form judges by its own answer.
        Assert.Equal(Task.Prompts(FarmSplit.Eval, 20, 3).Select(p => p.Prompt.Text), steps.Prompts(FarmSplit.Eval, 20, 3).Select(p => p.Prompt.Text));
        Assert.Equal(0.0, steps.Gold("4+8=", "12"));
    }
}
