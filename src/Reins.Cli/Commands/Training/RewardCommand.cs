using System.CommandLine;
using Reins.Alignment.RewardModeling;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Tokenizers;
using Reins.Rewards.Ensembles;
using Reins.Rewards.PreferenceModels;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;

namespace Reins.Cli.Commands.Training;

/// <summary>
/// `reins rm`: train a reward model (pairwise Bradley–Terry, or multi-attribute regression), score JSONL with one
/// (`rm score`), or train an ensemble of them (`rm ensemble`).
/// </summary>
internal static class RewardCommand
{
    public static Command Create()
    {
        var cmd = new Command("rm", "Train a reward model: Bradley–Terry on prompt/chosen/rejected pairs (optional \"margin\" field), a general preference model on the same pairs (--objective gpm), or regression on rating attributes (--objective regression).");
        var objective = new Option<string>("--objective") { Description = "pairwise (Bradley–Terry on preference pairs), gpm (general preference model: skew-symmetric embeddings that can express cycles; --value-head-dim, --tau), pair (a pair preference model reading prompt, A, separator, B; P(A > B) = sigma(f(A,B) - f(B,A))), mixture (K Bradley–Terry heads, one per annotator group, by EM over the records' \"annotator\" field; --mixture-components), user (a user-conditioned reward: features whose direction for each annotator is inferred from a few of their pairs; --user-latent-dim) or regression (MSE on rating attributes).", DefaultValueFactory = _ => "pairwise" };
        objective.AcceptOnlyFromAmong("pairwise", "gpm", "pair", "mixture", "user", "regression");
        var separator = new Option<string>("--pair-separator") { Description = "--objective pair: the text between the two responses the model reads.", DefaultValueFactory = _ => PairPreferenceModel.DefaultSeparator };
        var attributes = new Option<string?>("--attributes") { Description = "Regression: the rating fields to learn, comma-separated (default: every numeric field of the first record)." };
        var safetyPairs = new Option<string>("--pku-pairs") { Description = "PKU-SafeRLHF records: learn the helpfulness pairs (better_response_id chosen) or the safety pairs (safer_response_id chosen).", DefaultValueFactory = _ => "helpfulness" };
        safetyPairs.AcceptOnlyFromAmong("helpfulness", "safety");
        cmd.Add(objective);
        cmd.Add(separator);
        cmd.Add(attributes);
        cmd.Add(safetyPairs);
        var cli = new TrainerCli<RewardConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            var (model, tokenizer) = cli.LoadModel(r);
            var encoder = new TokenizerEncoder(tokenizer);
            RewardModelTrainer<RewardConfig> trainer;
            if (r.GetValue(objective) == "regression")
            {
                var readOptions = new DatasetReadOptions
                {
                    Format = DatasetFormat.Ratings,
                    RatingAttributes = r.GetValue(attributes)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                };
                var (train, eval) = cli.Datasets<RatingExample>(r, readOptions);
                trainer = new RegressionRewardTrainer(config, model, encoder, train, eval, tokenizer.Save);
            }
            else if (r.GetValue(objective) is "mixture" or "user")
            {
                var (train, eval) = cli.Datasets<PreferenceExample>(r);
                trainer = r.GetValue(objective) == "mixture" ? new MixtureRewardTrainer(config, model, encoder, train, eval, tokenizer.Save)
                    : new UserConditionedRewardTrainer(config, model, encoder, train, eval, tokenizer.Save);
            }
            else
            {
                var (train, eval) = cli.Datasets<Example>(r);
                bool helpfulness = r.GetValue(safetyPairs) == "helpfulness";
                IReadOnlyList<PreferenceExample> trainPairs = Pairs(train, helpfulness), evalPairs = eval is null ? [] : Pairs(eval, helpfulness);
                Action<string> writeExtraFiles = tokenizer.Save;
                if (r.GetValue(objective) == "pair")
                {
                    string text = r.GetValue(separator)!;
                    if (text.Length == 0) throw new ArgumentException("--pair-separator: must not be empty, or the two responses run together.");
                    (trainPairs, evalPairs) = ([.. trainPairs.Select(e => PairPreferenceModel.Joined(e, text))], [.. evalPairs.Select(e => PairPreferenceModel.Joined(e, text))]);
                    writeExtraFiles = d => { tokenizer.Save(d); PairPreferenceModel.Save(d, text); };
                }
                trainer = new RewardTrainer(config, model, encoder, trainPairs, eval is null ? null : evalPairs, writeExtraFiles, generalPreference: r.GetValue(objective) == "gpm");
            }
            ReportDropped(trainer);
            return Task.FromResult(cli.Run(r, "rm", trainer, cancellation));
        });
        cmd.Add(Score());
        cmd.Add(Ensemble());
        cmd.Add(Gate());
        return cmd;
    }

    private static Command Score()
    {
        var model = new Option<string>("--model") { Description = "Reward model directory, an ensemble directory of member-N reward models, or (with --pairs) a general preference model.", Required = true };
        var input = new Option<string>("--input") { Description = "JSONL of {prompt, completion} or {prompt, chosen, rejected} records (text or messages).", Required = true };
        var output = new Option<string>("--output") { Description = "JSONL written with each record's fields plus score (or score_chosen and score_rejected; with --pairs, probability).", Required = true };
        var pairs = new Option<bool>("--pairs") { Description = "Score each {prompt, chosen, rejected} record as a pair: probability = P(chosen ≻ rejected), from a general preference model or σ(r_chosen − r_rejected) of a reward model's raw scores." };
        var raw = new Option<bool>("--raw") { Description = "Write raw scores instead of scores standardised with the model's reward_normalization.json." };
        var weights = new Option<string?>("--weights") { Description = "Multi-attribute models: the reward as a weighted sum, e.g. helpfulness=1,verbosity=-0.5 (default: the mean of the attributes)." };
        var aggregation = new Option<string>("--aggregation") { Description = "Ensembles: mean, wco (worst case: the minimum) or uwo (mean − λ·variance).", DefaultValueFactory = _ => "mean" };
        aggregation.AcceptOnlyFromAmong("mean", "wco", "uwo");
        var lambda = new Option<float>("--uwo-lambda") { Description = "Ensembles: the variance penalty λ of uwo.", DefaultValueFactory = _ => 1f };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per forward pass.", DefaultValueFactory = _ => 16 };
        var userPairs = new Option<string?>("--user-pairs") { Description = "A user-conditioned reward model (--objective user): JSONL of the user's own labelled {prompt, chosen, rejected} pairs; scores are that user's rewards." };
        var threads = CommonOptions.Threads();
        var cmd = new Command("score", "Score a JSONL file with a reward model or ensemble; one output line per input record, in order.")
            { model, input, output, pairs, raw, weights, aggregation, lambda, batchSize, userPairs, threads };
        cmd.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            string path = r.GetValue(model)!;
            if (r.GetValue(pairs)) return Task.FromResult(ScorePairs(path, r.GetValue(input)!, r.GetValue(output)!, r.GetValue(batchSize), cancellation));
            if (GeneralPreferenceModel.IsPreferenceModel(path) || PairPreferenceModel.IsPairModel(path))
                throw new ArgumentException($"--model: {path} is a preference model, which scores pairs, not single responses; add --pairs.");
            if (UserConditionedReward.IsUserConditioned(path))
                return Task.FromResult(ScoreForUser(path, r.GetValue(userPairs) ?? throw new ArgumentException($"--model: {path} is a user-conditioned reward model; give --user-pairs with the user's labelled pairs."),
                    r.GetValue(input)!, r.GetValue(output)!, r.GetValue(batchSize), cancellation));
            if (r.GetValue(userPairs) is not null) throw new ArgumentException($"--user-pairs: {path} is not a user-conditioned reward model (reins rm --objective user).");
            var options = new RewardScoringOptions
            {
                BatchSize = r.GetValue(batchSize), Normalize = !r.GetValue(raw),
                Weights = r.GetValue(weights) is { } w ? AttributeWeights.Parse(w) : null,
            };
            var members = RewardEnsemble.MemberDirectories(path);
            Func<IReadOnlyList<TokenizedSequence>, SequenceScores> score;
            int maxLength;
            Tokenizer tokenizer;
            string key = "score";
            if (members.Count > 0)
            {
                if (!options.Normalize) throw new ArgumentException("--raw: ensemble members are always standardised, since their minimum and variance mean nothing otherwise.");
                var ensemble = RewardEnsemble.Load(path);
                var how = r.GetValue(aggregation) switch { "wco" => EnsembleAggregation.WorstCase, "uwo" => EnsembleAggregation.UncertaintyWeighted, _ => EnsembleAggregation.Mean };
                score = s => ensemble.Score(s, how, r.GetValue(lambda), options, cancellation);
                maxLength = ensemble.MaxLength;
                tokenizer = ensemble.Members[0].TokenizerFrom(members[0]);
            }
            else
            {
                var rewardModel = RewardModel.Load(path);
                // A cost's zero means "safe", so a cost model's scores are written raw, as the cost.
                if (rewardModel.IsCostModel) (options, key) = (options with { Normalize = false }, RewardModel.CostLabel);
                else if (options.Normalize && rewardModel.Normalization is null)
                    Console.Error.WriteLine($"rm score: {path} has no {RewardNormalization.FileName}; writing raw scores.");
                score = s => rewardModel.Score(s, options, cancellation);
                maxLength = rewardModel.MaxLength;
                tokenizer = rewardModel.TokenizerFrom(path);
            }
            var encoder = new TokenizerEncoder(tokenizer);
            int records = JsonlScoring.ScoreFile(r.GetValue(input)!, r.GetValue(output)!, encoder, maxLength, score, cancellation, key);
            Console.Error.WriteLine($"rm score: {records} records → {r.GetValue(output)}");
            return Task.FromResult(0);
        });
        return cmd;
    }

    // A user's rewards: the latent of their labelled pairs, then ⟨φ(y), z⟩ of every completion (or pair side) of the input.
    private static int ScoreForUser(string path, string userPairs, string input, string output, int batchSize, CancellationToken cancellation)
    {
        var reward = UserConditionedReward.Load(path);
        var encoder = new TokenizerEncoder(reward.Network.TokenizerFrom(path));
        var tokenizer = new DatasetTokenizer(encoder, ScoringTokenization.Options(reward.Network.MaxLength));
        var labelled = JsonlDatasetReader.Load<PreferenceExample>(userPairs).Examples.Select(e => tokenizer.Preference(e)!).ToArray();
        var latent = reward.Latent(labelled, batchSize, cancellation);
        int records = JsonlScoring.ScoreFile(input, output, encoder, reward.Network.MaxLength,
            s => new SequenceScores(reward.Score(s, latent, batchSize, cancellation), new Dictionary<string, float[]>()), cancellation);
        Console.Error.WriteLine($"rm score: {records} records → {output}, as the user of {labelled.Length} labelled pairs in {userPairs}");
        return 0;
    }

    // P(chosen ≻ rejected) of each pair: a general preference model's, or the Bradley–Terry probability of a reward model.
    private static int ScorePairs(string path, string input, string output, int batchSize, CancellationToken cancellation)
    {
        if (RewardEnsemble.MemberDirectories(path).Count > 0) throw new ArgumentException($"--pairs: {path} is an ensemble; score pairs with one reward model or a general preference model.");
        Func<IReadOnlyList<TokenizedPair>, float[]> probabilities;
        Tokenizer tokenizer;
        int maxLength;
        Func<PreferenceExample, PreferenceExample>? transform = null;
        if (GeneralPreferenceModel.IsPreferenceModel(path))
        {
            var preference = GeneralPreferenceModel.Load(path);
            (probabilities, tokenizer, maxLength) = (p => preference.Probabilities(p, batchSize, cancellation), preference.TokenizerFrom(path), preference.MaxLength);
        }
        else
        {
            // A pair model reads "chosen, separator, rejected" and the swap; its probability is then σ of their score difference too.
            var pairModel = PairPreferenceModel.IsPairModel(path) ? PairPreferenceModel.Load(path) : null;
            if (pairModel is not null) transform = e => PairPreferenceModel.Joined(e, pairModel.Separator);
            var reward = pairModel?.Network ?? RewardModel.Load(path);
            if (reward.Labels.Count != 1) throw new ArgumentException($"--pairs: {path} has {reward.Labels.Count} outputs; a Bradley–Terry probability needs a one-output reward model.");
            probabilities = p =>
            {
                var raw = reward.RawScores([.. p.SelectMany(x => new[] { x.Chosen, x.Rejected })], batchSize, cancellation);
                return [.. p.Select((_, i) => 1f / (1f + MathF.Exp(raw[2 * i + 1] - raw[2 * i])))];
            };
            (tokenizer, maxLength) = (reward.TokenizerFrom(path), reward.MaxLength);
        }
        int records = JsonlScoring.ScorePairsFile(input, output, new TokenizerEncoder(tokenizer), maxLength, probabilities, cancellation, transform);
        Console.Error.WriteLine($"rm score: {records} pairs → {output}");
        return 0;
    }

    private static Command Gate()
    {
        var verbosity = new Option<string?>("--verbosity-attribute") { Description = "The attribute every other is decorrelated from before gating (ArmoRM's verbosity; default: one named \"verbosity\", if any)." };
        var beta = new Option<float>("--gating-beta") { Description = "Scale β of the gated reward β·Σ g_k(x)·r'_k.", DefaultValueFactory = _ => 1f };
        var temperature = new Option<float>("--gating-temperature") { Description = "Temperature of the gate's softmax.", DefaultValueFactory = _ => 1f };
        var cmd = new Command("gate", "ArmoRM's second stage: on a regression (multi-attribute) reward model given by --model, with its trunk frozen, learn a prompt-dependent gate over its attributes from preference pairs.")
            { verbosity, beta, temperature };
        var cli = new TrainerCli<RewardConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            string path = cli.ModelPath(r);
            cli.ApplyThreads(r);
            var regression = RewardModel.Load(path);
            var tokenizer = regression.TokenizerFrom(path);
            var (train, eval) = cli.Datasets<PreferenceExample>(r);
            string? attribute = r.GetValue(verbosity) ?? (regression.Labels.Contains("verbosity") ? "verbosity" : null);
            var trainer = new AttributeGatingTrainer(config, regression, new TokenizerEncoder(tokenizer), train, eval, tokenizer.Save, attribute, r.GetValue(beta), r.GetValue(temperature));
            ReportDropped(trainer);
            return Task.FromResult(cli.Run(r, "rm gate", trainer, cancellation));
        });
        return cmd;
    }

    private static Command Ensemble()
    {
        var members = new Option<int>("--members") { Description = "Ensemble size K; member i trains with seed + i into OUT/member-i.", Required = true };
        var bootstrap = new Option<bool>("--bootstrap") { Description = "Train each member on its own bootstrap sample of the training set (n draws with replacement)." };
        var cmd = new Command("ensemble", "Train K pairwise reward models (different seeds, optionally bootstrap samples) for mean / WCO / UWO scoring.") { members, bootstrap };
        var cli = new TrainerCli<RewardConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            var (model, tokenizer) = cli.LoadModel(r);
            var encoder = new TokenizerEncoder(tokenizer);
            var (train, eval) = cli.Datasets<PreferenceExample>(r);
            foreach (var member in RewardEnsembleTraining.Plan(config, train.Count, r.GetValue(members), r.GetValue(bootstrap)))
            {
                if (cli.Resume(r) && member.Finished)
                {
                    Console.Error.WriteLine($"rm ensemble: member {member.Index} is already trained ({member.Config.Training.OutputDir}).");
                    continue;
                }
                var trainer = new RewardTrainer(member.Config, model, encoder, [.. member.TrainIndices.Select(i => train[i])], eval, tokenizer.Save);
                ReportDropped(trainer);
                int status = cli.Run(r, $"rm member {member.Index}", trainer, cancellation);
                if (status != 0) return Task.FromResult(status);
            }
            return Task.FromResult(0);
        });
        return cmd;
    }

    // Preference pairs, or the chosen pairs of PKU-SafeRLHF records (SafetyPreferenceExample.Split).
    private static IReadOnlyList<PreferenceExample> Pairs(IReadOnlyList<Example> examples, bool helpfulness)
    {
        if (examples.All(e => e is SafetyPreferenceExample))
        {
            var (help, safety) = SafetyPreferenceExample.Split(examples.Cast<SafetyPreferenceExample>());
            return helpfulness ? help : safety;
        }
        return [.. examples.Select(e => e as PreferenceExample
            ?? throw new InvalidDataException($"line {e.Line}: a pairwise reward model learns from preference (or PKU-SafeRLHF) records, not {e.GetType().Name}."))];
    }

    internal static void ReportDropped<TConfig>(RewardModelTrainer<TConfig> trainer) where TConfig : IRewardModelConfig
    {
        var (train, eval) = trainer.DroppedTooLong;
        if (train + eval > 0)
            Console.Error.WriteLine($"rm: dropped {train} training and {eval} evaluation records longer than {trainer.MaxLength} tokens (max_length, as TRL).");
    }
}
