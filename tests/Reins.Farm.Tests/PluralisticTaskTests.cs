using Reins.Farm.Stages;
using Reins.Farm.Tasks.Pluralistic;

namespace Reins.Farm.Tests;

/// <summary>The pluralistic task's two golds, how annotators join groups, and how the study scores the EM mixture's assignment.</summary>
public sealed class PluralisticTaskTests
{
    private readonly PluralisticTask task = new();

    [Fact]
    public void EachGroupScoresWhatItWantsAndTheGoldIsTheirShareWeightedMean()
    {
        const string both = "The lamp is bright and sturdy.", gushing = "The lamp is bright, sturdy, handy and lovely.", terse = "The lamp is dull.";
        Assert.Equal((1.0, 0.5), (PluralisticTask.Praise(both), PluralisticTask.Brevity(both)));
        // Praise saturates at two positive adjectives; each word beyond four costs the brevity group a quarter.
        Assert.Equal((1.0, 0.0), (PluralisticTask.Praise(gushing), PluralisticTask.Brevity(gushing)));
        Assert.Equal((-0.5, 1.0), (PluralisticTask.Praise(terse), PluralisticTask.Brevity(terse)));
        Assert.Equal((-1.0, -1.0), (PluralisticTask.Praise(""), PluralisticTask.Brevity("The lamp is.")));
        Assert.Equal(0.75 * 1 + 0.25 * 0.5, task.Gold("Review the lamp.", both), 12);
        Assert.Equal(1.0, task.Groups.Sum(g => g.Share), 12);
        Assert.All(task.Demonstrations(200, 3), d => Assert.Equal(task.Groups.Sum(g => g.Share * g.Gold(d.Prompt.Text!, d.Completion.Text!)), task.Gold(d.Prompt.Text!, d.Completion.Text!), 12));
    }

    [Fact]
    public void AnnotatorsJoinGroupsInterleavedInProportionToTheirShares()
    {
        var groups = task.Groups;
        Assert.Equal([0, 0, 1, 0, 0, 0, 1, 0], Enumerable.Range(0, 8).Select(i => IPluralisticTask.GroupOf(groups, i, 8)));
        Assert.Equal([0, 0, 1, 0], Enumerable.Range(0, 4).Select(i => IPluralisticTask.GroupOf(groups, i, 4)));
        AnnotatorGroup[] thirds = [new("a", 1 / 3.0, (_, _) => 0), new("b", 1 / 3.0, (_, _) => 0), new("c", 1 / 3.0, (_, _) => 0)];
        Assert.Equal([2, 2, 2], Enumerable.Range(0, 6).Select(i => IPluralisticTask.GroupOf(thirds, i, 6)).CountBy(g => g).Select(c => c.Value));
    }

    [Fact]
    public void AssignmentAccuracyMatchesUnlabelledComponentsToGroups()
    {
        static int Truth(int i) => i % 4 == 3 ? 1 : 0;
        // The components came out swapped: still every annotator is with its own group.
        var swapped = Enumerable.Range(0, 8).ToDictionary(i => $"annotator_{i}", i => 1 - Truth(i));
        Assert.Equal(1.0, PluralisticStudy.AssignmentAccuracy(swapped, Truth, 2, 8));
        // One minority annotator put with the majority, and one never seen: 6 of 8.
        var wrong = new Dictionary<string, int>(swapped) { ["annotator_3"] = 1 };
        wrong.Remove("annotator_0");
        Assert.Equal(6 / 8.0, PluralisticStudy.AssignmentAccuracy(wrong, Truth, 2, 8));
        // Everyone in one component: the majority's share.
        Assert.Equal(6 / 8.0, PluralisticStudy.AssignmentAccuracy(Enumerable.Range(0, 8).ToDictionary(i => $"annotator_{i}", _ => 0), Truth, 2, 8));
    }
}
