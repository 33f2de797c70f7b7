using Reins.Farm.Tasks;
using Reins.Farm.Tasks.Instructions;

namespace Reins.Farm.Tests;

public sealed class InstructionsTaskTests
{
    private static readonly InstructionsTask Task = new();

    [Fact]
    public void ConstraintsCheckWhatTheySay()
    {
        var atMost = new WordCountConstraint(CountRelation.AtMost, 3);
        Assert.True(atMost.IsSatisfiedBy("wet grey rain."));
        Assert.False(atMost.IsSatisfiedBy("wet grey rain falls"));
        Assert.True(new WordCountConstraint(CountRelation.AtLeast, 2).IsSatisfiedBy("- wet\n- rain"));
        Assert.False(new WordCountConstraint(CountRelation.Exactly, 2).IsSatisfiedBy("- wet\n- rain\n- falls"));

        Assert.True(new CaseConstraint(Uppercase: false).IsSatisfiedBy("wet rain, 3 drops."));
        Assert.False(new CaseConstraint(Uppercase: false).IsSatisfiedBy("Wet rain"));
        Assert.False(new CaseConstraint(Uppercase: false).IsSatisfiedBy("42"));
        Assert.True(new CaseConstraint(Uppercase: true).IsSatisfiedBy("- WET\n- RAIN"));
        Assert.False(new CaseConstraint(Uppercase: true).IsSatisfiedBy("WET rain"));

        Assert.True(new KeywordConstraint("gold").IsSatisfiedBy("A GOLD moon."));
        Assert.False(new KeywordConstraint("gold").IsSatisfiedBy("golden moon"));

        var bullets = new BulletListConstraint(2);
        Assert.True(bullets.IsSatisfiedBy("- wet rain\n- grey sky\n"));
        Assert.False(bullets.IsSatisfiedBy("- wet rain"));
        Assert.False(bullets.IsSatisfiedBy("wet rain\ngrey sky"));
        Assert.False(bullets.IsSatisfiedBy("- wet\n- "));
    }

    [Fact]
    public void GoldIsTheShareOfConstraintsSatisfied()
    {
        const string prompt = "Write about rain. Use at most 3 words. Write in lowercase.";
        Assert.Equal(1.0, Task.Gold(prompt, "wet grey rain"));
        Assert.Equal(0.5, Task.Gold(prompt, "Wet grey rain"));
        Assert.Equal(0.0, Task.Gold(prompt, "Wet grey rain falls"));
        Assert.Equal(2 / 3.0, Task.Gold("Write about a cat. Include the word kind. Answer as a list of 2 bullet points. Write in uppercase.", "- KIND CAT\n- soft fur"), 12);
        Assert.Throws<ArgumentException>(() => Task.Gold("Write about rain.", "rain"));
        Assert.Throws<FormatException>(() => Task.Gold("Write about rain. Rhyme.", "rain"));
    }

    [Fact]
    public void PromptsParseBackIntoTheirConstraints()
    {
        foreach (var p in Task.Prompts(FarmSplit.Train, 300, 1))
        {
            string text = p.Prompt.Text!;
            var constraints = InstructionsTask.Constraints(text);
            Assert.InRange(constraints.Count, 1, 3);
            Assert.Equal(constraints.Count, constraints.Select(c => c.GetType()).Distinct().Count());
            Assert.Equal(text[(text.IndexOf('.') + 2)..], string.Join(' ', constraints.Select(c => c.Instruction)));
        }
    }

    [Fact]
    public void DemonstrationsSatisfySomeConstraints()
    {
        var golds = Task.Demonstrations(3000, 4).Select(d => Task.Gold(d.Prompt.Text!, d.Completion.Text!)).ToList();
        Assert.InRange(golds.Average(), 0.5, 0.7);
        Assert.Contains(1.0, golds);
        Assert.Contains(0.0, golds);
        // Each constraint kind is met by about SatisfyProbability of the demonstrations that carry it.
        var demos = Task.Demonstrations(3000, 5);
        foreach (var kind in new[] { typeof(WordCountConstraint), typeof(CaseConstraint), typeof(KeywordConstraint), typeof(BulletListConstraint) })
        {
            var met = demos.SelectMany(d => InstructionsTask.Constraints(d.Prompt.Text!).Where(c => c.GetType() == kind).Select(c => c.IsSatisfiedBy(d.Completion.Text!))).ToList();
            Assert.InRange(met.Count(m => m) / (double)met.Count, InstructionsTask.SatisfyProbability - 0.08, InstructionsTask.SatisfyProbability + 0.08);
        }
    }

    [Fact]
    public void KeywordsAreNotTopicWords()
    {
        var demos = Task.Demonstrations(2000, 6);
        // A demonstration holds a keyword only when its prompt asks for that keyword.
        Assert.All(demos, d =>
        {
            var asked = InstructionsTask.Constraints(d.Prompt.Text!).OfType<KeywordConstraint>().Select(k => k.Keyword).ToHashSet();
            foreach (var k in InstructionsTask.Keywords.Where(k => !asked.Contains(k))) Assert.False(new KeywordConstraint(k).IsSatisfiedBy(d.Completion.Text!));
        });
    }
}
