using System.CommandLine;
using System.Globalization;
using Reins.Feedback.Tokenization;
using Reins.Models.Tokenizers;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;
using Reins.Rewards.Critics;
using Reins.Rewards.Ensembles;
using Reins.Rewards.ProcessRewards;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Rewards.Sources;
using Reins.Alignment.Training;

namespace Reins.Cli.Commands.Training;

/// <summary>
/// The reward flags of the online commands: a reward model (--reward-model DIR), an ensemble (--reward-ensemble DIR with
/// mean/wco/uwo), built-in verifiable functions (--reward-function, repeatable), an external JSON-lines program
/// (--reward-command), an OpenRLHF-style HTTP reward model (--reward-url) and a process reward model (--prm, its step
/// scores aggregated), combined as a weighted sum (--reward-weights, in that order).
/// </summary>
internal sealed class RewardOptions
{
    private readonly Option<string?> model = new("--reward-model") { Description = "Reward-model checkpoint (…ForSequenceClassification, normalised with its saved statistics)." };
    private readonly Option<string?> ensemble = new("--reward-ensemble") { Description = "Directory of reward-model members (member-0, member-1, …) from `reins rm ensemble`." };
    private readonly Option<string> aggregation = new("--ensemble-aggregation") { Description = "How ensemble members combine: mean, wco (minimum) or uwo (mean − λ·variance).", DefaultValueFactory = _ => "mean" };
    private readonly Option<float> uncertainty = new("--uwo-lambda") { Description = "λ of UWO's variance penalty.", DefaultValueFactory = _ => 1f };
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
    private readonly Option<string?> prm = new("--prm") { Description = "Process reward model (`reins prm`): a completion's steps (split at its step_separator) scored and aggregated by --prm-aggregation; logged as rewards/prm/mean." };
    private readonly Option<string> prmAggregation = new("--prm-aggregation", "--aggregation") { Description = "How --prm's step scores become one: min, prod, last or mean.", DefaultValueFactory = _ => "min" };
    private readonly Option<string?> refinementPolicy = new("--refinement-policy") { Description = "RefCritic's refinement reward for training a critic: this policy rewrites each record's solution (\"problem\", \"steps\") shown the completion as its critique; --refinement-verifier scores the rewrite. Logged as rewards/refinement/mean." };
    private readonly Option<string> refinementVerifier = new("--refinement-verifier") { Description = "The built-in reward function that scores --refinement-policy's rewrites (as --reward-function).", DefaultValueFactory = _ => "exact_match" };
    private readonly Option<string> labelField = new("--reward-label-field")
    {
        Description = "Record field sent as the labels of --reward-url.", DefaultValueFactory = _ => "answer",
    };
    private readonly Option<double> timeout = new("--reward-timeout")
    {
        Description = "Seconds a --reward-command may take for one score, or a --reward-url for one reply, before the step fails naming it.",
        DefaultValueFactory = _ => CommandRewardSource.DefaultTimeout.TotalSeconds,
    };
    private readonly Option<string?> weights = new("--reward-weights")
    {
        Description = "Comma-separated weights of the reward sources, in the order model, ensemble, functions, command, url, prm, refinement (default: all 1); " +
            "or name=weight pairs (helpfulness=1,verbosity=-0.5) weighing the outputs of a multi-attribute --reward-model, each output logged as rewards/reward_model/<name>/mean.",
    };
    private readonly Option<string> rewardAggregation = new("--reward-aggregation")
    {
        Description = "How a multi-output --reward-model's (standardised) outputs become one reward: mean (the weighted sum), min (MaxMin-RLHF's worst-served group of a mixture model) or softmin:TAU.",
        DefaultValueFactory = _ => "mean",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public RewardOptions(Command command)
    {
        prmAggregation.AcceptOnlyFromAmong("min", "prod", "last", "mean");
        foreach (var o in new Option[] { model, ensemble, aggregation, uncertainty, functions, this.command, url, labelField, timeout, prm, prmAggregation, refinementPolicy, refinementVerifier, weights, rewardAggregation }) command.Add(o);
    }

    /// <summary>
    /// The reward source the flags describe; dispose it when training ends (it may own a process). With no reward flag
    /// the source is <paramref name="otherwise"/>, or without one an error. A run's <paramref name="training"/> arguments
    /// freeze its reward model (held as bf16 under bf16).
    /// </summary>
    public WeightedRewardSum Build(ParseResult r, out IDisposable? resources, IRewardSource? otherwise = null, TrainingArguments? training = null)
    {
        var sources = new List<IRewardSource>();
        // name=weight pairs weigh the reward model's outputs; plain numbers weigh the sources.
        var attributeWeights = r.GetValue(weights) is { } text && text.Contains('=') ? AttributeWeights.Parse(text) : null;
        var outputs = RewardAggregation.Parse(r.GetValue(rewardAggregation)!);
        if (r.GetValue(model) is { } gatedDir && GatedRewardModel.IsGated(gatedDir))
        {
            if (attributeWeights is not null || outputs.Kind != RewardAggregationKind.WeightedSum)
                throw new ArgumentException("--reward-weights name=weight and --reward-aggregation: a gated reward model weighs its attributes itself.");
            var gated = GatedRewardModel.Load(gatedDir);
            sources.Add(new GatedRewardSource(gated, new TokenizerEncoder(gated.TokenizerFrom(gatedDir))));
        }
        else if (r.GetValue(model) is { } rm)
        {
            var rewardModel = RewardModel.Load(rm, training?.FrozenModelHeldAsBf16);
            training?.Freeze(rewardModel.Network);
            var scoring = new RewardScoringOptions { Weights = attributeWeights, Aggregation = outputs };
            try { AttributeWeights.Resolve(rewardModel.Labels, scoring.Validate().Weights); }
            catch (ArgumentException e) { throw new ArgumentException($"--reward-weights/--reward-aggregation: {e.Message}"); }
            sources.Add(new RewardModelSource(rewardModel, new TokenizerEncoder(rewardModel.TokenizerFrom(rm)), scoring));
        }
        else if (attributeWeights is not null || outputs.Kind != RewardAggregationKind.WeightedSum)
            throw new ArgumentException("--reward-weights name=weight and --reward-aggregation apply to the outputs of a --reward-model.");
        if (r.GetValue(ensemble) is { } dir)
        {
            var kind = r.GetValue(aggregation) switch
            {
                "mean" => EnsembleAggregation.Mean,
                "wco" => EnsembleAggregation.WorstCase,
                "uwo" => EnsembleAggregation.UncertaintyWeighted,
                var other => throw new ArgumentException($"--ensemble-aggregation: '{other}' is not one of mean, wco, uwo."),
            };
            var ensemble = RewardEnsemble.Load(dir);
            sources.Add(new EnsembleRewardSource(ensemble, new TokenizerEncoder(ensemble.Members[0].TokenizerFrom(RewardEnsemble.MemberPath(dir, 0))), kind, r.GetValue(uncertainty)));
        }
        sources.AddRange((r.GetValue(functions) ?? []).Select(VerifiableRewards.Create));
        double seconds = r.GetValue(timeout);
        if (!(seconds > 0 && seconds <= int.MaxValue / 1000.0)) throw new ArgumentException($"--reward-timeout: {seconds.ToString(CultureInfo.InvariantCulture)} is not a number of seconds above 0.");
        var limit = TimeSpan.FromSeconds(seconds);
        CommandRewardSource? program = r.GetValue(command) is { } c ? new CommandRewardSource(c, timeout: limit) : null;
        if (program is not null) sources.Add(program);
        if (r.GetValue(url) is { } u)
            sources.Add(new HttpRewardSource(Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri : throw new ArgumentException($"--reward-url: '{u}' is not an absolute URL."), r.GetValue(labelField)!, timeout: limit));
        if (r.GetValue(prm) is { } prmDir)
            sources.Add(new ProcessRewardSource(ProcessRewardModel.Load(prmDir), Enum.Parse<StepAggregation>(r.GetValue(prmAggregation)!, ignoreCase: true)));
        if (r.GetValue(refinementPolicy) is { } policyDir)
        {
            var (policy, tokenizer) = HfCheckpoint.LoadWithTokenizer(policyDir);
            sources.Add(new RefinementRewardSource(policy, new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true),
                VerifiableRewards.Create(r.GetValue(refinementVerifier)!), new SamplingOptions { MaxNewTokens = Math.Min(256, policy.Config.MaxPositions / 2), Temperature = 0 }));
        }
        if (sources.Count == 0 && otherwise is not null) sources.Add(otherwise);
        if (sources.Count == 0) throw new ArgumentException("no reward: give --reward-model DIR, --reward-ensemble DIR, --reward-function NAME, --reward-command CMD, --reward-url URL, --prm DIR or --refinement-policy DIR.");
        var w = ParseWeights(attributeWeights is null ? r.GetValue(weights) : null, sources.Count);
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
