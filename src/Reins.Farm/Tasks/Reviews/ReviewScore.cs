namespace Reins.Farm.Tasks.Reviews;

/// <summary>
/// The reviews task's gold reward and its three terms: Total = Sentiment + Fluency − Repetition. Sentiment is what
/// preference data teaches a reward model quickly; fluency under the task's own grammar is what it learns only
/// approximately, which leaves room for the over-optimisation of Gao et al. (2023).
/// </summary>
/// <param name="Sentiment">tanh of the summed lexicon polarities over <see cref="SentimentScale"/>, in (−1, 1).</param>
/// <param name="Fluency">Share of tokens in sentences the review grammar generates, in [0, 1].</param>
/// <param name="Repetition">Share of content tokens that repeat an earlier one, in [0, 1).</param>
internal sealed record ReviewScore(double Sentiment, double Fluency, double Repetition)
{
    /// <summary>
    /// The polarity sum at which sentiment reaches tanh(1) ≈ 0.76: about two warm sentences, so that a third positive
    /// sentence still helps but spamming opinion words soon stops paying.
    /// </summary>
    public const double SentimentScale = 3;

    private const double IntensifierFactor = 1.5;

    /// <summary>A negated opinion flips and weakens ("not great" is mildly negative, not awful), as in VADER.</summary>
    private const double NegationFactor = -0.5;

    /// <summary>The gold reward.</summary>
    public double Total => Sentiment + Fluency - Repetition;

    /// <summary>Scores a response.</summary>
    public static ReviewScore Of(string response)
    {
        var tokens = ReviewGrammar.Tokens(response);
        return new ReviewScore(Math.Tanh(PolaritySum(tokens) / SentimentScale), FluencyOf(tokens), RepetitionOf(tokens));
    }

    /// <summary>
    /// The summed polarity of the opinion words, each scaled by an intensifier just before it and flipped by a "not"
    /// one or two tokens before it (which covers "not very good" and "do not like").
    /// </summary>
    public static double PolaritySum(IReadOnlyList<string> tokens)
    {
        double sum = 0;
        for (int i = 0; i < tokens.Count; i++)
        {
            double p = ReviewLexicon.Polarity(tokens[i]);
            if (p == 0) continue;
            if (i >= 1 && ReviewLexicon.Intensifiers.Contains(tokens[i - 1])) p *= IntensifierFactor;
            if ((i >= 1 && tokens[i - 1] == ReviewLexicon.Not) || (i >= 2 && tokens[i - 2] == ReviewLexicon.Not)) p *= NegationFactor;
            sum += p;
        }
        return sum;
    }

    private static double FluencyOf(List<string> tokens)
    {
        if (tokens.Count == 0) return 0;
        int grammatical = 0, start = 0;
        for (int i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] != ".") continue;
            var sentence = tokens.GetRange(start, i + 1 - start);
            if (ReviewGrammar.IsSentence(sentence)) grammatical += sentence.Count;
            start = i + 1;
        }
        // Words after the last period form an unfinished sentence and count as ungrammatical.
        return grammatical / (double)tokens.Count;
    }

    private static double RepetitionOf(List<string> tokens)
    {
        var content = tokens.Where(t => !ReviewLexicon.StructureWords.Contains(t)).ToList();
        return content.Count == 0 ? 0 : (content.Count - content.Distinct().Count()) / (double)content.Count;
    }
}
