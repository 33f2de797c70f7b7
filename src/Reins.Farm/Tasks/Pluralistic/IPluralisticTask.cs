namespace Reins.Farm.Tasks.Pluralistic;

/// <summary>One group of a pluralistic task's people: its name, its share of the population, and what it wants.</summary>
/// <param name="Name">The group's name in results.json.</param>
/// <param name="Share">Its share of the annotators (and of the population the task's gold reward averages over).</param>
/// <param name="Gold">Its gold reward of a response to a prompt.</param>
public sealed record AnnotatorGroup(string Name, double Share, Func<string, string, double> Gold);

/// <summary>
/// A task whose people fall into groups that want different things (MaxMin-RLHF's setting): each simulated annotator
/// belongs to one group and judges by its gold; the task's <see cref="IFarmTask.Gold"/> is the population's
/// share-weighted mean, and the pluralistic study reports every method's gold and win-rate for each group.
/// </summary>
public interface IPluralisticTask : IFarmTask
{
    /// <summary>The groups, largest first; their shares sum to 1.</summary>
    IReadOnlyList<AnnotatorGroup> Groups { get; }

    /// <summary>
    /// The group of annotator <paramref name="member"/> of <paramref name="members"/>: each member joins the group furthest
    /// below its share so far, so the groups interleave across the pool (whose temperatures rise with the index) and a
    /// group's size is its share of the pool, rounded.
    /// </summary>
    static int GroupOf(IReadOnlyList<AnnotatorGroup> groups, int member, int members)
    {
        var counts = new int[groups.Count];
        int group = 0;
        for (int i = 0; i <= member; i++)
        {
            group = Enumerable.Range(0, groups.Count).MaxBy(g => groups[g].Share * (i + 1) - counts[g]);
            counts[group]++;
        }
        return group;
    }
}
