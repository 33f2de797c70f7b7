using Reins.Tensors;

namespace Reins.Farm.Tasks.Cyclic;

/// <summary>
/// A task whose simulated humans prefer among response styles in a cycle (rock–paper–scissors), so no scalar reward
/// explains their choices: the annotators and evaluators choose by <see cref="GoldMargin"/>, and the cyclic study
/// measures which preference models can learn that and what each method's policy mixes.
/// </summary>
public interface ICyclicTask : IFarmTask
{
    /// <summary>The styles' names; style i beats style i + 1 (mod the count).</summary>
    IReadOnlyList<string> Styles { get; }

    /// <summary>The style <paramref name="response"/> is written in, or null when it is not cleanly one (mixed, empty, misshapen).</summary>
    int? StyleOf(string response);

    /// <summary>A well-formed response in <paramref name="style"/>, drawn from <paramref name="rng"/>.</summary>
    string Respond(Rng rng, int style);

    /// <summary>
    /// How much more the simulated humans want <paramref name="first"/> than <paramref name="second"/>: the difference of
    /// the gold rewards (well-formedness), plus one when first's style beats second's and minus one when it loses.
    /// </summary>
    double GoldMargin(string prompt, string first, string second);
}
