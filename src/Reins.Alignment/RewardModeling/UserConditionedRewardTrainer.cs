using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Alignment.RewardModeling;

/// <summary>
/// Trains a <see cref="UserConditionedReward"/> (VPL-style; Poddar et al. 2024): each training pair's reward is
/// conditioned on the latent of user_context_pairs other pairs labelled by the same annotator (the record's "annotator"
/// or "group" field), drawn afresh each step, and the Bradley–Terry loss −log σ(⟨φ(chosen) − φ(rejected), z⟩) trains the
/// features so that one direction per user orders that user's pairs. Evaluation conditions each annotator's pairs on
/// all their training pairs (eval_accuracy) or, for an annotator never seen in training, on their first
/// user_context_pairs evaluation pairs, scoring the rest (eval_accuracy/new_users): how well a new user is served
/// from a handful of labels.
/// </summary>
public sealed class UserConditionedRewardTrainer : RewardModelTrainer<RewardConfig>
{
    private readonly TokenizedPair[] train, eval;
    private readonly string[] trainAnnotator, evalAnnotator;
    private readonly Dictionary<string, int[]> trainByAnnotator, evalByAnnotator;
    private readonly int contextPairs;
    private long step;

    /// <summary>Tokenises the pairs (dropping, as TRL, those longer than max_length); every annotator needs two pairs or more.</summary>
    public UserConditionedRewardTrainer(RewardConfig config, CausalLanguageModel model, ITextEncoder encoder,
        IReadOnlyList<PreferenceExample> trainSet, IReadOnlyList<PreferenceExample>? evalSet, Action<string>? writeExtraFiles)
        : base(config, model, [.. Enumerable.Range(0, config.UserLatentDim).Select(i => $"phi_{i}")], encoder, writeExtraFiles)
    {
        contextPairs = config.UserContextPairs;
        var (trainKept, evalKept) = PreferencePairs(trainSet, evalSet, encoder);
        (train, trainAnnotator) = ([.. trainKept.Select(p => p.Pair)], [.. trainKept.Select(p => Annotator(p.Example, "training"))]);
        (eval, evalAnnotator) = ([.. evalKept.Select(p => p.Pair)], [.. evalKept.Select(p => Annotator(p.Example, "evaluation"))]);
        trainByAnnotator = ByAnnotator(trainAnnotator);
        evalByAnnotator = ByAnnotator(evalAnnotator);
        if (trainByAnnotator.FirstOrDefault(a => a.Value.Length < 2) is { Key: not null } lone)
            throw new InvalidDataException($"rm: annotator '{lone.Key}' labelled one training pair; a user-conditioned reward needs at least two per annotator (one to learn from, others to condition on).");
    }

    /// <inheritdoc/>
    protected override int TrainCount => train.Length;

    private protected override IReadOnlyList<TokenizedSequence> NormalizationReference => [.. train.SelectMany(p => new[] { p.Chosen, p.Rejected })];

    /// <summary>Remembers the step, whose number seeds the context pairs drawn in it.</summary>
    protected override void BeforeStep(long step, long stepsPerEpoch) => this.step = step;

    /// <inheritdoc/>
    protected override StepOutput Step(int[] exampleIndices)
    {
        var contexts = exampleIndices.Select(i =>
        {
            // The annotator's other pairs, drawn from a generator of this step and pair, so a resumed run draws the same.
            var others = trainByAnnotator[trainAnnotator[i]].Where(j => j != i).ToArray();
            var rng = new Rng(Config.Training.Seed ^ (0x9E3779B97F4A7C15UL * (ulong)(step + 1)) ^ (0xBF58476D1CE4E5B9UL * (ulong)(i + 1)));
            return Enumerable.Range(0, contextPairs).Select(_ => train[others[rng.NextInt(others.Length)]]).ToArray();
        }).ToArray();
        var logits = Logits([.. exampleIndices.Select(i => train[i])], contexts);
        var values = logits.ToArray();
        return new StepOutput(-Ops.Mean(Ops.LogSigmoid(logits)), new Dictionary<string, double>
        {
            ["accuracy"] = values.Count(v => v > 0) / (double)values.Length, ["margin"] = values.Average(v => (double)v),
        });
    }

    /// <inheritdoc/>
    protected override IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (eval.Length == 0) return null;
        var reward = new UserConditionedReward(new RewardModel(Model, Labels));
        int batch = Config.Training.PerDeviceEvalBatchSize;
        int known = 0, knownRight = 0, fresh = 0, freshRight = 0;
        foreach (var (user, pairs) in evalByAnnotator)
        {
            // A known user is conditioned on all their training pairs; a new one on their first user_context_pairs, the rest scored.
            bool seen = trainByAnnotator.TryGetValue(user, out var own);
            var context = seen ? [.. own!.Select(j => train[j])] : pairs.Take(contextPairs).Select(j => eval[j]).ToArray();
            var targets = (seen ? pairs : pairs.Skip(contextPairs)).Select(j => eval[j]).ToArray();
            if (targets.Length == 0) continue;
            var latent = reward.Latent(context, batch);
            var chosen = reward.Score([.. targets.Select(p => p.Chosen)], latent, batch);
            var rejected = reward.Score([.. targets.Select(p => p.Rejected)], latent, batch);
            int right = Enumerable.Range(0, targets.Length).Count(i => chosen[i] > rejected[i]);
            if (seen) (known, knownRight) = (known + targets.Length, knownRight + right);
            else (fresh, freshRight) = (fresh + targets.Length, freshRight + right);
        }
        var metrics = new Dictionary<string, double>();
        if (known > 0) metrics["accuracy"] = knownRight / (double)known;
        if (fresh > 0) metrics["accuracy/new_users"] = freshRight / (double)fresh;
        return metrics;
    }

    /// <summary>Saves the marker beside the weights and statistics.</summary>
    protected override void WriteExtraFiles(string directory)
    {
        base.WriteExtraFiles(directory);
        UserConditionedReward.Save(directory, Labels.Count);
    }

    // ⟨φ(chosen) − φ(rejected), z⟩ of each target pair [B], z from its context pairs; one forward over all of them.
    private Tensor Logits(TokenizedPair[] targets, TokenizedPair[][] contexts)
    {
        int b = targets.Length, c = contextPairs, n = b + b * c;
        var batch = Collator.Preference([.. targets, .. contexts.SelectMany(x => x)]);
        var features = RewardModel.Scores(Model, batch.Tokens);
        var latents = UserConditionedReward.Latents(Ops.Narrow0(features, b, b * c), Ops.Narrow0(features, n + b, b * c), b, c);
        var difference = Ops.Narrow0(features, 0, b) - Ops.Narrow0(features, n, b);
        return Ops.Reshape(Ops.Sum(Ops.Mul(difference, latents), 1), b);
    }

    private static Dictionary<string, int[]> ByAnnotator(string[] annotators) =>
        annotators.Select((a, i) => (a, i)).GroupBy(x => x.a).ToDictionary(g => g.Key, g => g.Select(x => x.i).ToArray());
}
