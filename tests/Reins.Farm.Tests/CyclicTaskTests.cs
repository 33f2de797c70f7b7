using Reins.Farm.Stages;
using Reins.Farm.Tasks;
using Reins.Farm.Tasks.Cyclic;
using Reins.Tensors;

namespace Reins.Farm.Tests;

/// <summary>The cyclic task's gold preference and the study's style mix, on constructed replies whose values are known.</summary>
public sealed class CyclicTaskTests
{
    private readonly CyclicTask task = new();
    private const string Formal = "certainly indeed kindly", Casual = "sure yeah cool okay", Playful = "yay wow hooray";

    [Fact]
    public void StylesBeatEachOtherInACycleAndWellFormedBeatsMisshapen()
    {
        Assert.Equal([0, 1, 2], new[] { Formal, Casual, Playful }.Select(r => task.StyleOf(r)!.Value));
        Assert.Null(task.StyleOf("certainly yeah wow"));          // mixed
        Assert.Null(task.StyleOf("sure yeah"));                   // too short
        Assert.Null(task.StyleOf("sure sure sure sure sure sure sure"));
        Assert.Equal(1, task.GoldMargin("p", Formal, Casual));
        Assert.Equal(1, task.GoldMargin("p", Casual, Playful));
        Assert.Equal(1, task.GoldMargin("p", Playful, Formal));
        Assert.Equal(-1, task.GoldMargin("p", Casual, Formal));
        Assert.Equal(0, task.GoldMargin("p", Casual, "fine nice okay"));
        Assert.Equal(1, task.GoldMargin("p", Playful, "certainly yeah wow"));
        // Antisymmetric on replies the task writes, so P(a ≻ b) + P(b ≻ a) = 1 for every annotator.
        var replies = task.Demonstrations(60, 2).Select(d => d.Completion.Text!).ToArray();
        foreach (var a in replies)
            foreach (var b in replies)
                Assert.Equal(-task.GoldMargin("p", b, a), task.GoldMargin("p", a, b));
    }

    [Fact]
    public void DemonstrationsUseTheStylesEquallyWithSomeMixed()
    {
        var styles = task.Demonstrations(3000, 1).Select(d => task.StyleOf(d.Completion.Text!)).ToArray();
        Assert.InRange(styles.Count(s => s is null) / 3000.0, 0.12, 0.18);
        for (int s = 0; s < 3; s++) Assert.InRange(styles.Count(x => x == s) / 3000.0, 0.26, 0.31);
        var rng = new Rng(9);
        for (int s = 0; s < 3; s++) Assert.Equal(s, task.StyleOf(task.Respond(rng, s)));
    }

    [Fact]
    public void TheUniformMixCannotBeExploitedAndOneStyleCan()
    {
        string[] uniform = [Formal, Casual, Playful, Formal, Casual, Playful];
        var mix = CyclicStudy.Mix(task, "m", uniform);
        Assert.Equal(0.5, mix.WorstCaseWinRate, 12);
        Assert.Equal(1.0 / 3, mix.Styles["casual"], 12);
        // All formal: a playful reply beats every one of them.
        Assert.Equal(0, CyclicStudy.Mix(task, "m", [Formal, Formal]).WorstCaseWinRate);
        // Half formal, half casual: against a formal reply the formal half ties and the casual half loses, ¼.
        var two = CyclicStudy.Mix(task, "m", [Formal, Casual]);
        Assert.Equal(0.25, two.WorstCaseWinRate, 12);
        // Misshapen replies lose to any well-formed one.
        var broken = CyclicStudy.Mix(task, "m", ["oops", Formal, Casual, Playful]);
        Assert.Equal((0.25, 0.375), (broken.Other, broken.WorstCaseWinRate));
    }
}
