using System.Diagnostics;
using System.Text.Json;
using Reins.Alignment.Dpo;
using Reins.Alignment.ExpertIteration;
using Reins.Alignment.Grpo;
using Reins.Alignment.Online;
using Reins.Alignment.OnlineDpo;
using Reins.Alignment.Ppo;
using Reins.Alignment.RewardModeling;
using Reins.Alignment.Rloo;
using Reins.Alignment.Sft;
using Reins.Alignment.Training;
using Reins.Farm.Evaluation;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Reins.Feedback.Annotators;
using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.Ensembles;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Farm.Pipeline;

/// <summary>
/// The whole RLHF loop on one task, as AlpacaFarm runs it: pre-train a tiny base → SFT on demonstrations → sample
/// pairs from SFT → label them with the simulated annotator pool → train a reward model and an ensemble → run every
/// method with the trainers of Reins.Alignment → evaluate all on held-out prompts (gold reward, proxy reward, KL to
/// SFT, evaluator-pool win-rates) → results.json, metrics/*.jsonl and report.html.
/// </summary>
public sealed class FarmPipeline
{
    private const string Bos = "<|bos|>", Eos = "<|eos|>", Pad = "<|pad|>";
    private readonly IFarmTask task;
    private readonly FarmConfig config;
    private readonly ulong seed;
    private readonly string outDir;
    private readonly Action<string> log;
    private readonly IProgress<FarmProgress>? progress;
    private Tokenizer tokenizer = null!;
    private TokenizerEncoder encoder = null!;
    private readonly List<TrainingCurve> curves = [];

    /// <summary>
    /// A pipeline writing to <paramref name="outDir"/>; <paramref name="log"/> receives one line per finished stage and
    /// <paramref name="progress"/> each training step of each stage.
    /// </summary>
    public FarmPipeline(IFarmTask task, FarmConfig config, ulong seed, string outDir, Action<string> log, IProgress<FarmProgress>? progress = null)
    {
        this.progress = progress;
        this.task = task;
        this.config = config;
        this.seed = seed;
        this.outDir = Path.GetFullPath(outDir);
        this.log = log;
    }

    private string Dir(string name) => Path.Combine(outDir, "runs", name);

    private string Decode(int[] ids) => tokenizer.Decode(ids, skipSpecialTokens: true);

    /// <summary>Runs every stage and writes results.json and report.html; returns the results.</summary>
    public FarmResults Run(CancellationToken cancellation = default)
    {
        Directory.CreateDirectory(outDir);
        var corpus = task.PretrainingCorpus(config.CorpusDocuments, seed);
        // Arithmetic keeps digits as separate byte tokens: a BPE would make each number one token and addition a lookup.
        tokenizer = task.IsVerifiable ? Tokenizer.CreateByteLevel(config.Vocab) : Tokenizer.TrainByteLevelBpe(corpus, config.Vocab, [Bos, Eos, Pad]);
        encoder = new TokenizerEncoder(tokenizer);
        log($"tokenizer: {tokenizer.VocabSize} tokens");

        var clock = Stopwatch.StartNew();
        var policyBase = Pretrain("pretrain", config.Policy, corpus, config.PretrainSteps);
        var rewardBase = Pretrain("pretrain-rm", config.RewardModel, corpus, config.RewardBasePretrainSteps);
        var sft = Train("sft", new SftTrainer(new SftConfig
        {
            Training = new() { OutputDir = Dir("sft"), MaxSteps = config.SftSteps, LearningRate = 1e-3f, PerDeviceTrainBatchSize = 16, LoggingSteps = 10, Seed = seed, LrSchedulerType = "cosine", WarmupRatio = 0.1 },
            MaxLength = config.Context,
        }, policyBase, encoder, [.. task.Demonstrations(config.Demonstrations, seed)], null, tokenizer.Save));
        double sftSeconds = clock.Elapsed.TotalSeconds;

        // Preference data: two SFT samples per training prompt, labelled by the annotator pool.
        double range = task.RatingScale.GoldAtHighest - task.RatingScale.GoldAtLowest;
        double lengthBias = task.Name == "instructions" ? 0.02 * range : 0;
        var annotators = new AnnotatorPool(AnnotatorProfile.Spread(config.Annotators, 0.05 * range, 0.3 * range,
            AnnotatorProfile.AlpacaFarmFlipProbability, lengthBias, positionBias: 0.2), task.Gold, seed + 1);
        var evaluators = new AnnotatorPool(AnnotatorProfile.Spread(config.Annotators, 0.05 * range, 0.2 * range, 0, lengthBias, 0.2), task.Gold, seed + 2);
        var trainPrompts = task.Prompts(FarmSplit.Train, config.PreferencePrompts, seed + 3);
        var pairSamples = Sample(sft, trainPrompts, 2, 1f, seed + 4);
        var pairs = new List<ResponsePair>();
        var preferences = new List<PreferenceExample>();
        for (int i = 0; i < trainPrompts.Count; i++)
        {
            string prompt = trainPrompts[i].Prompt.Text!, a = Decode(pairSamples[2 * i].Tokens), b = Decode(pairSamples[2 * i + 1].Tokens);
            if (a == b) continue;
            pairs.Add(new ResponsePair(prompt, a, b));
            preferences.Add(annotators.Annotate(prompt, a, b));
        }
        var agreement = AgreementReport.Measure(annotators, pairs);
        log($"preferences: {preferences.Count} pairs, annotators agree with gold {agreement.AgreementWithGold:P1}, with each other {agreement.InterAnnotator:P1}");

        // Reward model and ensemble (each member from its own seed).
        var rewardModels = Enumerable.Range(0, config.EnsembleMembers).Select(m => TrainRewardModel(rewardBase, preferences, m)).ToList();
        var proxy = new RewardModelSource(rewardModels[0], encoder);
        var ensemble = new RewardEnsemble(rewardModels);
        IRewardSource onlineReward = task.IsVerifiable ? new GoldRewardSource(task) : proxy;

        var evalPrompts = task.Prompts(FarmSplit.Eval, config.EvalPrompts, seed + 5);
        var evaluation = new MethodEvaluation(this, task, evalPrompts, proxy, evaluators, seed);
        var sftModelDir = Dir("sft");
        evaluation.AddSft(HfCheckpoint.Load(sftModelDir), sftSeconds);
        CausalLanguageModel FromSft() => HfCheckpoint.Load(sftModelDir);

        foreach (int n in new[] { 4, 16 })
        {
            var timer = Stopwatch.StartNew();
            evaluation.AddBestOfN(n, timer);
        }
        var prompts = task.Prompts(FarmSplit.Train, config.PreferencePrompts, seed + 6);
        TimedPolicy(MethodNames.ExpertIteration, () => Train(MethodNames.ExpertIteration, new ExpertIterationTrainer(new ExpertIterationConfig { Training = OnlineTraining(MethodNames.ExpertIteration, 3e-4f, config.OnlineSteps), Online = OnlineArguments(), Group = new() { NumGenerations = 4 }, KeepTop = 1 }, FromSft(), new OnlineInputs(encoder, Decode, proxy, prompts) { WriteExtraFiles = tokenizer.Save })), evaluation);
        TimedPolicy(MethodNames.Dpo, () => Train(MethodNames.Dpo, new DpoTrainer(new DpoConfig
        {
            Training = new() { OutputDir = Dir(MethodNames.Dpo), MaxSteps = config.DpoSteps, LearningRate = 2e-4f, PerDeviceTrainBatchSize = 16, LoggingSteps = 5, Seed = seed },
            Data = new() { MaxLength = config.Context, MaxPromptLength = config.Context - config.MaxResponseTokens, MaxCompletionLength = config.MaxResponseTokens },
            Loss = new() { Beta = 0.1f },
        }, FromSft(), FromSft(), encoder, preferences, null, tokenizer.Save)), evaluation);
        // Online DPO (OAIF): each step's two samples per prompt are judged by the reward model, the same proxy PPO optimises.
        TimedPolicy(MethodNames.OnlineDpo, () => Train(MethodNames.OnlineDpo, new OnlineDpoTrainer(new OnlineDpoConfig { Training = OnlineTraining(MethodNames.OnlineDpo, 2e-4f, config.OnlineSteps), Online = OnlineArguments(), Loss = new() { Beta = 0.1f } }, FromSft(), FromSft(), new OnlineInputs(encoder, Decode, proxy, prompts) { WriteExtraFiles = tokenizer.Save })), evaluation);
        TimedPolicy(MethodNames.Ppo, () => TrainPpo(MethodNames.Ppo, config.PpoKl, config.OnlineSteps, onlineReward, FromSft(), rewardModels[0], prompts, null), evaluation);
        TimedPolicy(MethodNames.Grpo, () => Train(MethodNames.Grpo, new GrpoTrainer(new GrpoConfig { Training = OnlineTraining(MethodNames.Grpo, 3e-4f, config.OnlineSteps), Online = OnlineArguments(), Group = new() { NumGenerations = 4 } }, FromSft(), FromSft(), new OnlineInputs(encoder, Decode, onlineReward, prompts) { WriteExtraFiles = tokenizer.Save })), evaluation);
        TimedPolicy(MethodNames.Rloo, () => Train(MethodNames.Rloo, new RlooTrainer(new RlooConfig { Training = OnlineTraining(MethodNames.Rloo, 3e-4f, config.OnlineSteps), Online = OnlineArguments(), Group = new() { NumGenerations = 4 } }, FromSft(), FromSft(), new OnlineInputs(encoder, Decode, onlineReward, prompts) { WriteExtraFiles = tokenizer.Save })), evaluation);

        // Over-optimisation (Gao et al.): small-KL PPO against one reward model, the worst case and the uncertainty-weighted ensemble.
        var curvesByReward = new Dictionary<string, List<OveroptimizationPoint>>();
        foreach (var (name, reward) in new (string, IRewardSource)[]
        {
            (MethodNames.Single, proxy),
            (MethodNames.WorstCaseOptimization, new EnsembleRewardSource(ensemble, encoder, EnsembleAggregation.WorstCase)),
            (MethodNames.UncertaintyWeightedOptimization, new EnsembleRewardSource(ensemble, encoder, EnsembleAggregation.UncertaintyWeighted, uncertaintyPenalty: 1f)),
        })
        {
            var points = curvesByReward[name] = [];
            // Every curve starts at the SFT policy (step 0, KL 0), so a rise and fall of the gold reward is visible.
            var start = evaluation.Measure(FromSft());
            points.Add(new OveroptimizationPoint(0, 0, start.Gold, start.Proxy));
            TrainPpo("overopt-" + name, config.OveroptimizationKl, config.OveroptimizationSteps, reward, FromSft(), rewardModels[0], prompts,
                (step, policy) =>
                {
                    if (step % config.OveroptimizationEvery != 0) return;
                    var (gold, proxyReward, kl) = evaluation.Measure(policy);
                    points.Add(new OveroptimizationPoint(step, Math.Sqrt(Math.Max(0, kl)), gold, proxyReward));
                });
            log($"over-optimisation ({name}): {string.Join("; ", points.Select(p => $"√KL {p.SqrtKl:F2} gold {p.GoldReward:F3} proxy {p.ProxyReward:F3}"))}");
        }

        var results = new FarmResults(task.Name, seed, AnnotatorResults.From(agreement), evaluation.Results(),
            new OveroptimizationResults(curvesByReward[MethodNames.Single], curvesByReward[MethodNames.WorstCaseOptimization], curvesByReward[MethodNames.UncertaintyWeightedOptimization]));
        results.Write(outDir);
        var metricsDir = Path.Combine(outDir, "metrics");
        Directory.CreateDirectory(metricsDir);
        foreach (var run in Directory.GetDirectories(Path.Combine(outDir, "runs")))
            if (File.Exists(Path.Combine(run, "metrics.jsonl")))
                File.Copy(Path.Combine(run, "metrics.jsonl"), Path.Combine(metricsDir, Path.GetFileName(run) + ".jsonl"), overwrite: true);
        HtmlReport.Write(outDir, results, curves, evaluation.Examples(5), task.Description);
        return results;
    }

    private void TimedPolicy(string name, Func<CausalLanguageModel> train, MethodEvaluation evaluation)
    {
        var timer = Stopwatch.StartNew();
        var policy = train();
        evaluation.AddPolicy(name, policy, timer);
    }

    private TrainingArguments OnlineTraining(string name, float learningRate, int steps) =>
        new() { OutputDir = Dir(name), MaxSteps = steps, LearningRate = learningRate, PerDeviceTrainBatchSize = 16, LoggingSteps = 2, Seed = seed };

    private OnlineArguments OnlineArguments() => new()
    {
        Sampling = new() { MaxPromptLength = config.Context - config.MaxResponseTokens, MaxCompletionLength = config.MaxResponseTokens, MissingEosPenalty = 1f },
    };

    private CausalLanguageModel TrainPpo(string name, float kl, int steps, IRewardSource reward, CausalLanguageModel policy, RewardModel critic, IReadOnlyList<PromptOnlyExample> prompts,
        Action<long, CausalLanguageModel>? onStep)
    {
        var ppoConfig = new PpoConfig { Training = OnlineTraining(name, 1e-4f, steps), Online = OnlineArguments(), KlCoef = kl, CriticLearningRate = 3e-4f };
        var trainer = new PpoTrainer(ppoConfig, policy, HfCheckpoint.Load(Dir("sft")), CloneNetwork(critic.Network), new OnlineInputs(encoder, Decode, reward, prompts) { WriteExtraFiles = tokenizer.Save });
        trainer.Train(progress: new SynchronousProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>(p =>
        {
            progress?.Report(new FarmProgress(name, p.Step, p.Total));
            onStep?.Invoke(p.Step, policy);
        }));
        curves.AddRange(TrainingCurve.FromMetricsJsonl(name, Path.Combine(Dir(name), "metrics.jsonl"), ["reward", "objective/kl"]));
        log($"{name}: {steps} steps");
        return policy;
    }

    private static CausalLanguageModel CloneNetwork(CausalLanguageModel network)
    {
        var copy = CausalLanguageModel.Create(network.Config, 0);
        copy.CopyParametersFrom(network);
        return copy;
    }

    private CausalLanguageModel Pretrain(string name, (int Hidden, int Layers, int Heads) size, IReadOnlyList<string> corpus, int steps)
    {
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(tokenizer.VocabSize, size.Hidden, size.Layers, size.Heads, config.Context) with
        {
            BosTokenId = tokenizer.BosId, EosTokenId = tokenizer.EosId, PadTokenId = tokenizer.PadId,
        }, seed);
        return Train(name, new SftTrainer(new SftConfig
        {
            Training = new() { OutputDir = Dir(name), MaxSteps = steps, LearningRate = 3e-3f, PerDeviceTrainBatchSize = 16, LoggingSteps = 10, Seed = seed, LrSchedulerType = "cosine", WarmupRatio = 0.05, WeightDecay = 0.1f },
            MaxLength = config.Context, Packing = true,
        }, model, encoder, [.. corpus.Select(text => new LanguageModelingExample(TextOrConversation.FromText(text)))], null, tokenizer.Save));
    }

    private RewardModel TrainRewardModel(CausalLanguageModel rewardBase, IReadOnlyList<PreferenceExample> preferences, int member)
    {
        string name = member == 0 ? "reward-model" : $"reward-model-{member}";
        var network = CloneNetwork(rewardBase);
        Train(name, new RewardTrainer(new RewardConfig
        {
            Training = new() { OutputDir = Dir(name), MaxSteps = config.RewardSteps, LearningRate = 1e-3f, PerDeviceTrainBatchSize = 16, LoggingSteps = 10, Seed = seed + (ulong)member * 7919 },
            MaxLength = config.Context,
        }, network, encoder, preferences, null, tokenizer.Save));
        return RewardModel.Load(Dir(name));
    }

    private CausalLanguageModel Train(string name, ITrainer trainer)
    {
        var timer = Stopwatch.StartNew();
        var result = trainer.Train(progress: new SynchronousProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>(
            p => progress?.Report(new FarmProgress(name, p.Step, p.Total))));
        string loss = result.LastMetrics.TryGetValue("loss", out var l) ? $", loss {l:F3}" : "";
        string reward = result.LastMetrics.TryGetValue("reward", out var r) ? $", reward {r:F3}" : "";
        log($"{name}: {result.Steps} steps in {timer.Elapsed.TotalSeconds:F1} s{loss}{reward}");
        curves.AddRange(TrainingCurve.FromMetricsJsonl(name, Path.Combine(trainer.Run.Path, "metrics.jsonl"), ["loss", "reward"]));
        return trainer.Model;
    }

    // n samples per prompt at the given temperature, in prompt order (sample j of prompt i at i·n + j).
    internal IReadOnlyList<GeneratedSequence> Sample(CausalLanguageModel policy, IReadOnlyList<PromptOnlyExample> prompts, int n, float temperature, ulong sampleSeed)
    {
        var tokenized = new DatasetTokenizer(encoder, new TokenizationOptions { MaxLength = null, MaxPromptLength = config.Context - config.MaxResponseTokens });
        var ids = prompts.Select(p => tokenized.Prompt(p)!.InputIds).ToList();
        var results = new List<GeneratedSequence>();
        const int Batch = 32;
        for (int start = 0; start < ids.Count; start += Batch)
        {
            var chunk = ids.Skip(start).Take(Batch).ToList();
            var generated = Generator.Generate(policy, chunk, new SamplingOptions
            {
                MaxNewTokens = config.MaxResponseTokens, Temperature = temperature, NumReturnSequences = n, StopTokenIds = [tokenizer.EosId!.Value],
                PromptSeeds = [.. Enumerable.Range(start, chunk.Count).Select(i => sampleSeed * 1_000_003UL + (ulong)i)],
            }, Decode);
            // The generator numbers prompts within its call; the scoring requests index the whole prompt list.
            results.AddRange(generated.Select(s => s with { PromptIndex = start + s.PromptIndex }));
        }
        return results;
    }

    /// <summary>log π of each response token under <paramref name="model"/>, teacher-forced at temperature 1.</summary>
    internal static float[][] ResponseLogProbs(CausalLanguageModel model, IReadOnlyList<GeneratedSequence> sequences, int padId)
    {
        var result = new float[sequences.Count][];
        const int Batch = 32;
        for (int start = 0; start < sequences.Count; start += Batch)
        {
            var chunk = sequences.Skip(start).Take(Batch).ToList();
            int length = chunk.Max(s => s.PromptIds.Length + s.Tokens.Length);
            var ids = new int[chunk.Count * length];
            var labels = new int[chunk.Count * length];
            var mask = new float[chunk.Count * length];
            Array.Fill(ids, padId);
            Array.Fill(labels, -100);
            for (int r = 0; r < chunk.Count; r++)
            {
                int[] full = [.. chunk[r].PromptIds, .. chunk[r].Tokens];
                full.CopyTo(ids, r * length);
                mask.AsSpan(r * length, full.Length).Fill(1);
                chunk[r].Tokens.CopyTo(labels, r * length + chunk[r].PromptIds.Length);
            }
            using var tape = new Tape(recordGradients: false);
            var perToken = Alignment.SequenceLogProbs.Compute(model, new TokenBatch(chunk.Count, length, ids, mask, labels)).PerToken.ToArray();
            // Position t scores token t + 1, so a response starting at p is read from positions p − 1 onwards.
            for (int r = 0; r < chunk.Count; r++)
                result[start + r] = perToken.AsSpan(r * length + chunk[r].PromptIds.Length - 1, chunk[r].Tokens.Length).ToArray();
        }
        return result;
    }

    // Evaluation of every method on the same held-out prompts.
    private sealed class MethodEvaluation(FarmPipeline farm, IFarmTask task, IReadOnlyList<PromptOnlyExample> prompts, RewardModelSource proxy, AnnotatorPool evaluators, ulong seed)
    {
        private sealed record Row(string Name, string[] Responses, double[] Gold, double[] Proxy, double[] Kl, double[] Lengths, double Seconds, double? KlBound);
        private readonly List<Row> rows = [];
        private CausalLanguageModel sft = null!;
        private IReadOnlyList<string> PromptTexts => [.. prompts.Select(p => p.Prompt.Text!)];

        public void AddSft(CausalLanguageModel model, double seconds)
        {
            sft = model;
            var samples = farm.Sample(model, prompts, 1, 1f, seed + 100);
            rows.Add(Measure(MethodNames.Sft, samples, new double[samples.Count], seconds, null));
        }

        public void AddBestOfN(int n, Stopwatch timer)
        {
            var samples = farm.Sample(sft, prompts, n, 1f, seed + 200 + (ulong)n);
            var scores = proxy.Score(Requests(samples));
            var best = Enumerable.Range(0, prompts.Count).Select(i => samples[i * n + Enumerable.Range(0, n).MaxBy(j => scores[i * n + j])]).ToList();
            // π_BoN has no tractable density, so its KL is reported as the analytic bound log n − (n−1)/n (Beirami et al. 2024).
            double bound = BestOfNKlBound.Of(n);
            rows.Add(Measure(n == 4 ? MethodNames.BestOf4 : MethodNames.BestOf16, best, Enumerable.Repeat(bound, best.Count).ToArray(), timer.Elapsed.TotalSeconds, bound));
        }

        public void AddPolicy(string name, CausalLanguageModel policy, Stopwatch timer)
        {
            var samples = farm.Sample(policy, prompts, 1, 1f, seed + 300 + (ulong)rows.Count);
            rows.Add(Measure(name, samples, Kl(samples), timer.Elapsed.TotalSeconds, null));
        }

        // Gold, proxy and KL of a policy's samples, for the over-optimisation curves.
        public (double Gold, double Proxy, double Kl) Measure(CausalLanguageModel policy)
        {
            var samples = farm.Sample(policy, prompts, 1, 1f, seed + 400);
            var row = Measure("checkpoint", samples, Kl(samples), 0, null);
            return (row.Gold.Average(), row.Proxy.Average(), row.Kl.Average());
        }

        // KL(π‖π_SFT) estimated from π's own samples: Σ_t log π − log π_SFT per response (the generator's log-probs are at T = 1).
        private double[] Kl(IReadOnlyList<GeneratedSequence> samples)
        {
            var reference = ResponseLogProbs(sft, samples, sft.Config.PadTokenId ?? 0);
            return KlEstimate.PerResponse([.. samples.Select(s => s.LogProbs)], reference);
        }

        private ScoringRequest[] Requests(IReadOnlyList<GeneratedSequence> samples) => [.. samples.Select(s =>
            new ScoringRequest(prompts[s.PromptIndex].Prompt.Text!, s.Text!, s.PromptIds, s.Tokens, s.FinishReason == FinishReason.Stop, prompts[s.PromptIndex].Extra))];

        private Row Measure(string name, IReadOnlyList<GeneratedSequence> samples, double[] kl, double seconds, double? bound)
        {
            var texts = samples.Select(s => s.Text!).ToArray();
            var gold = samples.Select((s, i) => task.Gold(prompts[i].Prompt.Text!, texts[i])).ToArray();
            var proxyScores = proxy.Score(Requests(samples)).Select(x => (double)x).ToArray();
            return new Row(name, texts, gold, proxyScores, kl, [.. samples.Select(s => (double)s.Tokens.Length)], seconds, bound);
        }

        public IReadOnlyList<MethodResult> Results()
        {
            var sftRow = rows.Single(r => r.Name == MethodNames.Sft);
            var outcomes = rows.ToDictionary(r => r.Name, r => r.Name == MethodNames.Sft ? [] : WinRate.Judge(evaluators, PromptTexts, r.Responses, sftRow.Responses, seed + 500));
            var results = new List<MethodResult>();
            foreach (var row in rows)
            {
                var gold = Bootstrap.Mean(row.Gold, seed + 600);
                var proxyCi = Bootstrap.Mean(row.Proxy, seed + 601);
                var klCi = Bootstrap.Mean(row.Kl, seed + 602);
                double win = 0.5, lc = 0.5;
                double[]? winCi = null;
                if (row.Name != MethodNames.Sft)
                {
                    var o = outcomes[row.Name];
                    win = WinRate.Of(o);
                    var w = Bootstrap.Mean(o, seed + 603);
                    winCi = [w.Low, w.High];
                    var lengthDifferences = row.Responses.Select((r, i) => (double)(r.Length - sftRow.Responses[i].Length)).ToArray();
                    var others = outcomes.Where(kv => kv.Key != row.Name && kv.Key != MethodNames.Sft).Select(kv => (IReadOnlyList<double>)kv.Value).ToList();
                    lc = LengthControlledWinRate.Fit(o, lengthDifferences, others.Count > 0 ? LengthControlledWinRate.InstructionDifficulty(others) : null).WinRate;
                }
                results.Add(new MethodResult(row.Name, gold.Estimate, [gold.Low, gold.High], proxyCi.Estimate, row.Name == MethodNames.Sft ? 0 : klCi.Estimate,
                    win, lc, row.Lengths.Average(), Math.Round(row.Seconds, 1), [proxyCi.Low, proxyCi.High],
                    row.Name == MethodNames.Sft ? [0, 0] : [klCi.Low, klCi.High], winCi, row.KlBound));
            }
            return results;
        }

        public IReadOnlyList<ExampleResponse> Examples(int count) =>
            [.. Enumerable.Range(0, Math.Min(count, prompts.Count)).SelectMany(i => rows.Select(r => new ExampleResponse(prompts[i].Prompt.Text!, r.Name, r.Responses[i], r.Gold[i])))];
    }
}
