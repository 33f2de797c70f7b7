using System.Globalization;
using System.Text.RegularExpressions;

namespace Reins.Rewards.Judges;

/// <summary>
/// What a pointwise judge rates and on what scale: one overall 1–10 score, or HelpSteer2's five attributes on 0–4
/// (helpfulness, correctness, coherence, complexity, verbosity), each asked separately.
/// </summary>
public sealed record RatingScale(IReadOnlyList<string> Attributes, int Min, int Max)
{
    /// <summary>One overall score from 1 to 10 (MT-Bench style).</summary>
    public static readonly RatingScale Score = new(["score"], 1, 10);

    /// <summary>HelpSteer2's attributes, 0–4 each.</summary>
    public static readonly RatingScale HelpSteer2 = new(["helpfulness", "correctness", "coherence", "complexity", "verbosity"], 0, 4);

    /// <summary>The judge's messages for one attribute of one response.</summary>
    public (string System, string User) Messages(string attribute, string instruction, string response) => (
        $"You rate one response to an instruction for {attribute}, on a scale from {Min} (worst) to {Max} (best). Judge only {attribute}.",
        $"Instruction:\n{instruction}\n\nResponse:\n{response}\n\nRate the response's {attribute} from {Min} to {Max}. Answer with the number only.");
}

/// <summary>
/// A pointwise LLM judge for regression reward-model data (HelpSteer-style records): each response is rated on each
/// attribute of a <see cref="RatingScale"/>. With log-probs the rating is the expected value over the scale's numbers
/// among the likeliest first tokens (a soft rating); without, the first number of the answer; an answer without a
/// number on the scale is NaN and counted as unparsed.
/// </summary>
public sealed partial class LlmPointwiseJudge(LlmJudgeSettings settings, RatingScale scale) : IDisposable
{
    private readonly JudgeClient client = new(settings);
    private int soft, parsed, unparsed;

    /// <summary>The judge's model name.</summary>
    public string Model => settings.Model;

    /// <summary>Requests, cache hits, tokens and how ratings were read, so far.</summary>
    public JudgeUsage Usage
    {
        get
        {
            var u = client.Usage;
            return new(u.Requests, u.CacheHits, u.PromptTokens, u.CompletionTokens, soft, parsed, unparsed);
        }
    }

    /// <summary>For each (instruction, response), one rating per attribute of the scale, in its order (NaN when unreadable).</summary>
    public async Task<double[][]> RateAsync(IReadOnlyList<(string Instruction, string Response)> items, CancellationToken cancellation = default)
    {
        var asked = items.Select(item => scale.Attributes.Select(a => RateAsync(a, item.Instruction, item.Response, cancellation)).ToList()).ToList();
        await Task.WhenAll(asked.SelectMany(x => x));
        return [.. asked.Select(x => x.Select(t => t.Result).ToArray())];
    }

    private async Task<double> RateAsync(string attribute, string instruction, string response, CancellationToken cancellation)
    {
        var (system, user) = scale.Messages(attribute, instruction, response);
        var answer = await client.AskAsync(system, user, maxTokens: 4, topLogProbs: 20, cancellation);
        double mass = 0, sum = 0;
        foreach (var t in answer.Top)
            if (Value(t.Token) is { } v) { double p = Math.Exp(t.LogProb); mass += p; sum += p * v; }
        if (mass > 0)
        {
            Interlocked.Increment(ref soft);
            return sum / mass;
        }
        if (FirstNumber().Match(answer.Text) is { Success: true } m && Value(m.Value) is { } parsedValue)
        {
            Interlocked.Increment(ref parsed);
            return parsedValue;
        }
        Interlocked.Increment(ref unparsed);
        return double.NaN;
    }

    private int? Value(string token) =>
        int.TryParse(token.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= scale.Min && v <= scale.Max ? v : null;

    [GeneratedRegex(@"\d+")]
    private static partial Regex FirstNumber();

    /// <inheritdoc/>
    public void Dispose() => client.Dispose();
}
