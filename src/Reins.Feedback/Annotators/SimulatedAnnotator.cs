using Reins.Tensors;

namespace Reins.Feedback.Annotators;

/// <summary>
/// One simulated annotator of AlpacaFarm's p_sim (Dubois et al. 2023): a Bradley–Terry chooser on a known gold reward,
/// with the temperature, label noise, length bias and position bias of its <see cref="AnnotatorProfile"/>. The gold
/// reward arrives as a function, so this layer knows nothing of the tasks that define it. Seeded; not thread-safe.
/// </summary>
public sealed class SimulatedAnnotator : IPairwiseAnnotator
{
    private readonly GoldPreference gold;
    private readonly Rng rng;

    /// <summary>An annotator judging by <paramref name="gold"/>(prompt, response), drawing its noise from <paramref name="seed"/>.</summary>
    public SimulatedAnnotator(AnnotatorProfile profile, Func<string, string, double> gold, ulong seed)
        : this(profile, new GoldPreference(gold ?? throw new ArgumentNullException(nameof(gold))), seed) { }

    /// <summary>An annotator judging pairs by <paramref name="gold"/>'s margin, drawing its noise from <paramref name="seed"/>.</summary>
    public SimulatedAnnotator(AnnotatorProfile profile, GoldPreference gold, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(profile);
        profile.Validate();
        Profile = profile;
        this.gold = gold ?? throw new ArgumentNullException(nameof(gold));
        rng = new Rng(seed);
    }

    /// <summary>The annotator's temperature and biases.</summary>
    public AnnotatorProfile Profile { get; }

    /// <inheritdoc/>
    public string Name => "simulated";

    /// <summary>The length the length bias counts: whitespace-separated words.</summary>
    public static int WordCount(string text)
    {
        int words = 0;
        bool inWord = false;
        foreach (char c in text)
        {
            bool space = char.IsWhiteSpace(c);
            if (!space && !inWord) words++;
            inWord = !space;
        }
        return words;
    }

    /// <summary>What the annotator maximises when its gold is a reward: the gold reward plus its length bias.</summary>
    public double Utility(string prompt, string response) => gold.Reward(prompt, response) + Profile.LengthBias * WordCount(response);

    /// <summary>The probability that <see cref="Compare"/> answers <see cref="Preference.First"/>, label noise included.</summary>
    public double ProbabilityFirst(string prompt, string first, string second)
    {
        double difference = gold.PairMargin is null
            ? Utility(prompt, first) - Utility(prompt, second)
            : gold.Margin(prompt, first, second) + Profile.LengthBias * (WordCount(first) - WordCount(second));
        // Bradley–Terry with temperature: P(first ≻ second) = σ(Δu/T + b_position). At T = 0 the utility decides and the
        // position bias only breaks exact ties.
        double choice = Profile.Temperature == 0
            ? difference > 0 ? 1 : difference < 0 ? 0 : Sigmoid(Profile.PositionBias)
            : Sigmoid(difference / Profile.Temperature + Profile.PositionBias);
        // Flipping a Bernoulli(p) label with probability f gives a Bernoulli((1 − f)p + f(1 − p)) label.
        double f = Profile.FlipProbability;
        return (1 - f) * choice + f * (1 - choice);
    }

    /// <summary>The pairwise protocol: which of two responses to <paramref name="prompt"/> the annotator prefers.</summary>
    public Preference Compare(string prompt, string first, string second) =>
        rng.NextDouble() < ProbabilityFirst(prompt, first, second) ? Preference.First : Preference.Second;

    /// <summary>
    /// The pointwise protocol: a 1–7 rating of the utility perturbed by logistic noise of scale T (an ordered-logit
    /// model, the pointwise counterpart of Bradley–Terry), replaced by a uniformly random rating with the flip
    /// probability, the pointwise form of label noise.
    /// </summary>
    public int Rate(string prompt, string response, RatingScale scale)
    {
        if (rng.NextDouble() < Profile.FlipProbability)
            return RatingScale.Lowest + rng.NextInt(RatingScale.Highest - RatingScale.Lowest + 1);
        double v = rng.NextDouble();
        double logisticNoise = v == 0 ? 0 : Math.Log(v / (1 - v));
        return scale.ToRating(Utility(prompt, response) + Profile.Temperature * logisticNoise);
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
