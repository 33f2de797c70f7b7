using System.Collections.Frozen;
using System.Text.Json;
using Reins.Feedback.Datasets;
using Reins.Tensors;

namespace Reins.Feedback.Annotators;

/// <summary>
/// A pool of simulated annotators. As in AlpacaFarm's p_sim, each pairwise or pointwise query goes to one member
/// drawn at random, so the pool's labels mix its members' temperatures and biases; <see cref="CompareAll"/> asks every
/// member, which agreement statistics need. Seeded: the same seed and the same sequence of calls give the same labels.
/// </summary>
public sealed class AnnotatorPool
{
    private readonly Rng chooser;

    /// <summary>
    /// A pool with one simulated annotator per profile, all judging by <paramref name="gold"/>(prompt, response), plus
    /// any <paramref name="external"/> members (an LLM judge, say), drawn for pairwise queries like the others.
    /// </summary>
    public AnnotatorPool(IReadOnlyList<AnnotatorProfile> profiles, Func<string, string, double> gold, ulong seed, IReadOnlyList<IPairwiseAnnotator>? external = null)
        : this(profiles, new GoldPreference(gold ?? throw new ArgumentNullException(nameof(gold))), seed, external) { }

    /// <summary>
    /// A pool judging pairs by <paramref name="gold"/>'s margin; with <paramref name="memberGolds"/>, simulated member i
    /// judges by memberGolds[i] instead (a population whose groups want different things), and <paramref name="gold"/>
    /// is what the pool's agreement is measured against.
    /// </summary>
    public AnnotatorPool(IReadOnlyList<AnnotatorProfile> profiles, GoldPreference gold, ulong seed, IReadOnlyList<IPairwiseAnnotator>? external = null,
        IReadOnlyList<GoldPreference>? memberGolds = null)
    {
        ArgumentNullException.ThrowIfNull(profiles);
        if (profiles.Count == 0) throw new ArgumentException("an annotator pool needs at least one annotator", nameof(profiles));
        if (memberGolds is not null && memberGolds.Count != profiles.Count)
            throw new ArgumentException($"{memberGolds.Count} member golds for {profiles.Count} annotators", nameof(memberGolds));
        Gold = gold ?? throw new ArgumentNullException(nameof(gold));
        chooser = new Rng(seed);
        // Rng expands its seed with SplitMix64, so mixing the member's index in by a multiply gives unrelated streams.
        Annotators = [.. profiles.Select((p, i) => new SimulatedAnnotator(p, memberGolds?[i] ?? gold, seed ^ (0x9E3779B97F4A7C15UL * (ulong)(i + 1))))];
        Members = [.. Annotators, .. external ?? []];
    }

    /// <summary>The simulated members, in the order of their profiles.</summary>
    public IReadOnlyList<SimulatedAnnotator> Annotators { get; }

    /// <summary>Every member: the simulated ones, then the external ones.</summary>
    public IReadOnlyList<IPairwiseAnnotator> Members { get; }

    /// <summary>The gold the members judge by (unless each has its own), and the pool's agreement is measured against.</summary>
    public GoldPreference Gold { get; }

    /// <summary>The preference of one randomly drawn member.</summary>
    public Preference Compare(string prompt, string first, string second) => Members[chooser.NextInt(Members.Count)].Compare(prompt, first, second);

    /// <summary>The id a record labelled by member <paramref name="index"/> carries: "annotator_i" for a simulated member, an external one's name.</summary>
    public string MemberId(int index) => index < Annotators.Count ? SimulatedId(index) : Members[index].Name;

    /// <summary>The id of simulated member <paramref name="index"/>.</summary>
    public static string SimulatedId(int index) => $"annotator_{index}";

    /// <summary>Every member's preference, in member order.</summary>
    public Preference[] CompareAll(string prompt, string first, string second) =>
        [.. Members.Select(a => a.Compare(prompt, first, second))];

    /// <summary>The 1–7 rating of one randomly drawn simulated member (external members only compare).</summary>
    public int Rate(string prompt, string response, RatingScale scale) => Annotators[chooser.NextInt(Annotators.Count)].Rate(prompt, response, scale);

    /// <summary>
    /// A preference record (TRL's prompt / chosen / rejected) labelled by one randomly drawn member, whose id
    /// (<see cref="MemberId"/>) is the record's "annotator" field, as pluralistic reward models read it.
    /// </summary>
    public PreferenceExample Annotate(string prompt, string first, string second)
    {
        int member = chooser.NextInt(Members.Count);
        bool firstWins = Members[member].Compare(prompt, first, second) == Preference.First;
        return new PreferenceExample(TextOrConversation.FromText(prompt),
            TextOrConversation.FromText(firstWins ? first : second), TextOrConversation.FromText(firstWins ? second : first))
        {
            Extra = new Dictionary<string, JsonElement> { ["annotator"] = JsonSerializer.SerializeToElement(MemberId(member)) }.ToFrozenDictionary(),
        };
    }

}
