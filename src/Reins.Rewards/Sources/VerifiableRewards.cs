using System.Globalization;
using Reins.Rewards.Critics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Reins.Rewards.Sources;

/// <summary>
/// A reward computed by C# code from each request alone (RLVR's verifiable rewards, TRL's reward functions):
/// the completion text, whether it finished, and the prompt record's extra fields.
/// </summary>
/// <param name="name">Logged as rewards/&lt;name&gt;/mean.</param>
/// <param name="score">The reward of one request; NaN means "does not apply" (skipped by <see cref="WeightedRewardSum"/>).</param>
public sealed class FunctionRewardSource(string name, Func<ScoringRequest, float> score) : IRewardSource
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) =>
        [.. requests.Select(score)];
}

/// <summary>
/// The built-in verifiable reward functions, chosen by name on the command line as <c>name</c> or <c>name:argument</c>.
/// </summary>
public static class VerifiableRewards
{
    /// <summary>The names and what each rewards, for --help and error messages.</summary>
    public static IReadOnlyDictionary<string, string> Descriptions { get; } = new Dictionary<string, string>
    {
        ["exact_match"] = "1 if the completion's answer equals the record's \"answer\" field, else 0",
        ["contains"] = "1 if the completion contains the argument (contains:TEXT) or else the record's \"answer\", else 0",
        ["length"] = "length:N — 1 − |characters − N| / N, floored at 0",
        ["format"] = "format[:REGEX] — 1 if the whole completion matches REGEX (default <think>…</think> <answer>…</answer>), else 0",
        ["verdict_match"] = "verdict_match[:REGEX] — a critic's reward: 1 if its verdict (the last \\boxed{i}, or REGEX's group) judges the whole solution as the record's \"label\" does (-1 right, else wrong), else 0",
        ["verdict_step_match"] = "verdict_step_match[:REGEX] — a critic's reward: 1 if its verdict names the record's \"label\" (the earliest wrong step, -1 none) exactly, else 0",
    };

    /// <summary>The R1-style reasoning format (DeepSeek-AI 2025), the usual format reward of TRL's GRPO examples.</summary>
    public const string ThinkAnswerFormat = @"^<think>.*?</think>\s*<answer>.*?</answer>$";

    /// <summary>The function named by <paramref name="spec"/> (<c>name</c> or <c>name:argument</c>).</summary>
    public static FunctionRewardSource Create(string spec)
    {
        int colon = spec.IndexOf(':');
        string name = colon < 0 ? spec : spec[..colon];
        string? argument = colon < 0 ? null : spec[(colon + 1)..];
        return name switch
        {
            "exact_match" => new(name, r => AnswersEqual(ExtractAnswer(r.Completion), Field(r, "answer", name)) ? 1 : 0),
            "contains" => new(name, r => r.Completion.Contains(argument ?? Field(r, "answer", name), StringComparison.Ordinal) ? 1 : 0),
            "length" => Length(argument),
            "format" => Format(argument ?? ThinkAnswerFormat),
            "verdict_match" or "verdict_step_match" => Verdict(name, new CriticFormat(verdictPattern: argument ?? CriticFormat.BoxedVerdict)),
            _ => throw new ArgumentException($"reward function '{name}' is unknown; the built-in ones are {string.Join(", ", Descriptions.Keys)}."),
        };
    }

    // RefCritic's rewards: the critic's verdict against the record's label (ProcessBench's), on the solution or the step.
    private static FunctionRewardSource Verdict(string name, CriticFormat format) => new(name, r =>
    {
        var labelText = Field(r, "label", name);
        if (!int.TryParse(labelText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int label) || label < -1)
            throw new InvalidDataException($"reward function '{name}': the record's \"label\" is '{labelText}', not -1 or a step index.");
        int steps = r.Extra.TryGetValue("steps", out var list) && list.ValueKind == JsonValueKind.Array ? list.GetArrayLength() : int.MaxValue;
        if (format.Verdict(r.Completion, steps) is not { } verdict) return 0;
        return name == "verdict_match" ? (verdict == -1) == (label == -1) ? 1 : 0 : verdict == label ? 1 : 0;
    });

    private static FunctionRewardSource Length(string? argument)
    {
        if (!int.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out int target) || target < 1)
            throw new ArgumentException($"reward function 'length' needs a positive target, as length:200; got '{argument}'.");
        return new("length", r => MathF.Max(0, 1 - MathF.Abs(r.Completion.Length - target) / target));
    }

    private static FunctionRewardSource Format(string pattern)
    {
        Regex regex;
        try { regex = new Regex(pattern, RegexOptions.Singleline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)); }
        catch (ArgumentException e) { throw new ArgumentException($"reward function 'format': invalid regular expression '{pattern}': {e.Message}"); }
        return new("format", r => regex.IsMatch(r.Completion) ? 1 : 0);
    }

    /// <summary>A record field as text (strings as they are, numbers and other JSON as written); a missing field is an error naming it.</summary>
    public static string Field(ScoringRequest request, string field, string function) =>
        !request.Extra.TryGetValue(field, out var value)
            ? throw new InvalidDataException($"reward function '{function}' reads the field \"{field}\", which this prompt record lacks (fields: {string.Join(", ", request.Extra.Keys)}).")
            : value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();

    /// <summary>
    /// The answer a completion gives: the content of its last &lt;answer&gt;…&lt;/answer&gt; (R1 format), else of its last
    /// \boxed{…} (MATH), else the text after its last "####" (GSM8K), else the whole completion; trimmed.
    /// </summary>
    public static string ExtractAnswer(string completion)
    {
        int open = completion.LastIndexOf("<answer>", StringComparison.Ordinal);
        if (open >= 0)
        {
            int start = open + "<answer>".Length, close = completion.IndexOf("</answer>", start, StringComparison.Ordinal);
            if (close >= 0) return completion[start..close].Trim();
        }
        int boxed = completion.LastIndexOf(@"\boxed{", StringComparison.Ordinal);
        if (boxed >= 0 && Braced(completion, boxed + @"\boxed{".Length) is { } inner) return inner.Trim();
        int hashes = completion.LastIndexOf("####", StringComparison.Ordinal);
        return (hashes >= 0 ? completion[(hashes + 4)..] : completion).Trim();
    }

    // The text up to the brace that closes the one opened just before `start`, with nested braces (\frac{1}{2}).
    private static string? Braced(string text, int start)
    {
        for (int i = start, depth = 1; i < text.Length; i++)
        {
            if (text[i] == '{') depth++;
            else if (text[i] == '}' && --depth == 0) return text[start..i];
        }
        return null;
    }

    /// <summary>Equal as numbers when both parse as numbers ("42" = "42.0" = "42,000" without the commas), else as trimmed text.</summary>
    public static bool AnswersEqual(string given, string expected)
    {
        static string Plain(string s) => s.Trim().TrimEnd('.').Replace(",", "", StringComparison.Ordinal).TrimStart('$');
        if (double.TryParse(Plain(given), NumberStyles.Float, CultureInfo.InvariantCulture, out double a)
            && double.TryParse(Plain(expected), NumberStyles.Float, CultureInfo.InvariantCulture, out double b))
            return Math.Abs(a - b) <= 1e-9 * Math.Max(1, Math.Abs(b));
        return string.Equals(given.Trim(), expected.Trim(), StringComparison.Ordinal);
    }
}
