using System.CommandLine;
using System.Globalization;
using Reins.Rewards.Sources;

namespace Reins.Cli.Commands.Training;

/// <summary>
/// The reward flags of the online commands: built-in verifiable functions (--reward-function, repeatable), an external
/// JSON-lines program (--reward-command), an OpenRLHF-style HTTP reward model (--reward-url), combined as a weighted
/// sum (--reward-weights, in that order). The reward-model source (a local …ForSequenceClassification checkpoint)
/// joins this list as one more option.
/// </summary>
internal sealed class RewardOptions
{
    private readonly Option<string[]> functions = new("--reward-function")
    {
        Description = "Built-in reward function, repeatable: " + string.Join("; ", VerifiableRewards.Descriptions.Select(d => $"{d.Key}: {d.Value}")) + ".",
        AllowMultipleArgumentsPerToken = false,
    };
    private readonly Option<string?> command = new("--reward-command")
    {
        Description = "Shell command that reads one JSON request per line on stdin and writes one score per line on stdout (a number or {\"reward\": x}).",
    };
    private readonly Option<string?> url = new("--reward-url") { Description = "Remote reward model (OpenRLHF protocol): POST {query, prompts, labels, …} → {rewards}." };
    private readonly Option<string> labelField = new("--reward-label-field")
    {
        Description = "Record field sent as the labels of --reward-url.", DefaultValueFactory = _ => "answer",
    };
    private readonly Option<string?> weights = new("--reward-weights")
    {
        Description = "Comma-separated weights of the reward sources, in the order functions, command, url (default: all 1).",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public RewardOptions(Command command)
    {
        foreach (var o in new Option[] { functions, this.command, url, labelField, weights }) command.Add(o);
    }

    /// <summary>The reward source the flags describe; dispose it when training ends (it may own a process).</summary>
    public WeightedRewardSum Build(ParseResult r, out IDisposable? resources)
    {
        var sources = new List<IRewardSource>();
        sources.AddRange((r.GetValue(functions) ?? []).Select(VerifiableRewards.Create));
        CommandRewardSource? program = r.GetValue(command) is { } c ? new CommandRewardSource(c) : null;
        if (program is not null) sources.Add(program);
        if (r.GetValue(url) is { } u)
            sources.Add(new HttpRewardSource(Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri : throw new ArgumentException($"--reward-url: '{u}' is not an absolute URL."), r.GetValue(labelField)!));
        if (sources.Count == 0) throw new ArgumentException("no reward: give --reward-function NAME, --reward-command CMD or --reward-url URL.");
        var w = ParseWeights(r.GetValue(weights), sources.Count);
        resources = program;
        return new WeightedRewardSum([.. sources.Select((s, i) => (s, w[i]))]);
    }

    private static float[] ParseWeights(string? text, int count)
    {
        if (text is null) return Enumerable.Repeat(1f, count).ToArray();
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != count) throw new ArgumentException($"--reward-weights: {parts.Length} weights for {count} reward sources.");
        return [.. parts.Select(p => float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v
            : throw new ArgumentException($"--reward-weights: '{p}' is not a number."))];
    }
}
