using System.Diagnostics;
using Reins.Alignment.Objectives;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Feedback.Annotators;
using Reins.Feedback.Datasets;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Evaluation;
using Reins.Rewards.Sources;
using Reins.Farm.Tasks.Safety;

namespace Reins.Farm.Evaluation;

/// <summary>
/// The last stage: every method on the same held-out prompts — one sample each (best-of-n: the proxy's pick of n SFT
/// samples), its gold reward, proxy reward, KL to the SFT policy and length, then the evaluator pool's win-rate against
/// SFT (raw and length-controlled) and bootstrap intervals of each.
/// </summary>
internal sealed class MethodEvaluation(FarmContext farm, IReadOnlyList<PromptOnlyExample> prompts, IRewardSource proxy, AnnotatorPool evaluators)
{
    private sealed record Row(string Name, IReadOnlyList<GeneratedSequence> Samples, string[] Responses, double[] Gold, double[] Proxy, double[] Kl, double[] Lengths, double Seconds, double? KlBound)
    {
        /// <summary>Completions the method drew from a policy (see <see cref="MethodResult.Samples"/>).</summary>
        public long Drawn { get; init; }
    }
    private readonly List<Row> rows = [];
    private readonly Dictionary<string, double[]> judged = [];
    private CausalLanguageModel sft = null!;
    private SeedOffsets Seeds => farm.Config.Seeds;
    private IReadOnlyList<string> PromptTexts => [.. prompts.Select(p => p.Prompt.Text!)];

    /// <summary>The held-out prompts' texts, in order.</summary>
    public IReadOnlyList<string> Prompts => PromptTexts;

    /// <summary>Every row's responses in prompt order, by method, in the order the rows were added.</summary>
    public IReadOnlyList<(string Method, string[] Responses)> Responses => [.. rows.Select(r => (r.Name, r.Responses))];

    /// <summary>The SFT policy: the reference every other row is compared with.</summary>
    public void AddSft(CausalLanguageModel model, double seconds)
    {
        sft = model;
        var samples = farm.Sample(model, prompts, 1, farm.Seed + Seeds.SftSamples);
        rows.Add(Measure(MethodNames.Sft, samples, new double[samples.Count], seconds, null));
    }

    /// <summary>Best of <paramref name="n"/> SFT samples by the proxy reward.</summary>
    public void AddBestOfN(int n, Stopwatch timer)
    {
        var samples = farm.Sample(sft, prompts, n, farm.Seed + Seeds.BestOfNSamples + (ulong)n);
        var scores = farm.Score(proxy, prompts, samples);
        var best = Enumerable.Range(0, prompts.Count).Select(i => samples[i * n + Enumerable.Range(0, n).MaxBy(j => scores[i * n + j])]).ToList();
        // π_BoN has no tractable density, so its KL is reported as the analytic bound log n − (n−1)/n (Beirami et al. 2024).
        double bound = BestOfNKlBound.Of(n);
        rows.Add(Measure(MethodNames.BestOf(n), best, Enumerable.Repeat(bound, best.Count).ToArray(), timer.Elapsed.TotalSeconds, bound) with { Drawn = (long)n * prompts.Count });
    }

    /// <summary>
    /// Best of <paramref name="n"/> SFT samples under a cost constraint (Safe RLHF's decoding-time baseline): the proxy's
    /// pick among the samples whose <paramref name="cost"/> is at most <paramref name="threshold"/>, or the least costly
    /// when none is. A choice by one score of the samples, so best-of-n's KL bound holds.
    /// </summary>
    public void AddConstrainedBestOfN(string name, int n, IRewardSource cost, double threshold, Stopwatch timer)
    {
        var samples = farm.Sample(sft, prompts, n, farm.Seed + Seeds.BestOfNSamples + (ulong)n);
        var scores = farm.Score(proxy, prompts, samples);
        var costs = farm.Score(cost, prompts, samples);
        var best = Enumerable.Range(0, prompts.Count).Select(i =>
        {
            var group = Enumerable.Range(i * n, n).ToArray();
            var feasible = group.Where(j => costs[j] <= threshold).ToArray();
            return samples[feasible.Length > 0 ? feasible.MaxBy(j => scores[j]) : group.MinBy(j => costs[j])];
        }).ToList();
        double bound = BestOfNKlBound.Of(n);
        rows.Add(Measure(name, best, Enumerable.Repeat(bound, best.Count).ToArray(), timer.Elapsed.TotalSeconds, bound) with { Drawn = (long)n * prompts.Count });
    }

    /// <summary>
    /// Each row's HC-RLHF safety test on the held-out prompts: <paramref name="cost"/>'s raw costs of its responses and the
    /// one-sided (1 − <paramref name="delta"/>) Student-t bound of their mean against <paramref name="threshold"/>, with
    /// the gold mean cost beside it to show whether the verdict was right.
    /// </summary>
    public IReadOnlyList<(string Name, SafetyTest Test, double GoldCost)> SafetyTests(IRewardSource cost, double threshold, double delta) =>
        [.. rows.Select(r => (r.Name, SafetyTest.Run([.. farm.Score(cost, prompts, r.Samples).Select(c => (double)c)], threshold, delta),
            r.Samples.Select((s, i) => ((ISafetyTask)farm.Task).Cost(prompts[i].Prompt.Text!, r.Responses[i])).Average()))];

    /// <summary>A trained policy; <paramref name="timer"/> has run since its training started.</summary>
    public void AddPolicy(string name, CausalLanguageModel policy, Stopwatch timer)
    {
        var samples = farm.Sample(policy, prompts, 1, farm.Seed + Seeds.PolicySamples + (ulong)rows.Count);
        rows.Add(Measure(name, samples, Kl(samples), timer.Elapsed.TotalSeconds, null) with { Drawn = farm.Episodes.GetValueOrDefault(name) });
    }

    /// <summary>
    /// Trains <paramref name="trainer"/> as stage <paramref name="name"/> (<see cref="FarmContext.Train"/>, keeping its
    /// <paramref name="curves"/>) and adds its policy; the row's time counts from building the trainer.
    /// </summary>
    public void AddTrained(string name, Func<Alignment.Training.ITrainer> trainer, string[]? curves = null)
    {
        var timer = Stopwatch.StartNew();
        AddPolicy(name, farm.Train(name, trainer(), curves: curves), timer);
    }

    /// <summary>Gold, proxy and KL of a policy's samples, for the over-optimisation curves.</summary>
    public (double Gold, double Proxy, double Kl) Measure(CausalLanguageModel policy)
    {
        var samples = farm.Sample(policy, prompts, 1, farm.Seed + Seeds.CheckpointSamples);
        var row = Measure("checkpoint", samples, Kl(samples), 0, null);
        return (row.Gold.Average(), row.Proxy.Average(), row.Kl.Average());
    }

    // KL(π‖π_SFT) estimated from π's own samples: Σ_t log π − log π_SFT per response (the generator's log-probs are at T = 1).
    private double[] Kl(IReadOnlyList<GeneratedSequence> samples)
    {
        var reference = SequenceLogProbs.OfCompletions(sft, samples, sft.Config.PadTokenId ?? 0, rowsPerBatch: 32);
        return KlEstimate.PerResponse([.. samples.Select(s => s.LogProbs)], reference);
    }

    private Row Measure(string name, IReadOnlyList<GeneratedSequence> samples, double[] kl, double seconds, double? bound)
    {
        var texts = samples.Select(s => s.Text!).ToArray();
        var gold = samples.Select((s, i) => farm.Task.Gold(prompts[i].Prompt.Text!, texts[i])).ToArray();
        var proxyScores = farm.Score(proxy, prompts, samples).Select(x => (double)x).ToArray();
        return new Row(name, samples, texts, gold, proxyScores, kl, [.. samples.Select(s => (double)s.Tokens.Length)], seconds, bound);
    }

    // Each row's evaluator-pool outcomes against SFT's response to the same prompt (1 win, ½ tie, 0 loss; none for SFT),
    // judged once: the pool draws its members and their noise from its own generator, so judging again would give
    // other outcomes than the ones the win-rates were computed from.
    private Dictionary<string, double[]> Outcomes()
    {
        var sftRow = rows.Single(r => r.Name == MethodNames.Sft);
        foreach (var r in rows.Where(r => !judged.ContainsKey(r.Name)))
            judged[r.Name] = r.Name == MethodNames.Sft ? [] : WinRate.Judge(evaluators, PromptTexts, r.Responses, sftRow.Responses, farm.Seed + Seeds.WinRates);
        return rows.ToDictionary(r => r.Name, r => judged[r.Name]);
    }

    /// <summary>Every row's per-prompt gold reward and win outcome, in prompt order, for multi-seed intervals.</summary>
    public PerPromptValues PerPrompt()
    {
        var outcomes = Outcomes();
        return new PerPromptValues(rows.ToDictionary(r => r.Name, r => new PromptValues(r.Gold, outcomes[r.Name])));
    }

    /// <summary>Every row's measurements with intervals, and win-rates against SFT from the evaluator pool.</summary>
    public IReadOnlyList<MethodResult> Results()
    {
        ulong bootstrap = farm.Seed + Seeds.Bootstrap;
        var sftRow = rows.Single(r => r.Name == MethodNames.Sft);
        var outcomes = Outcomes();
        var results = new List<MethodResult>();
        foreach (var row in rows)
        {
            var gold = Bootstrap.Mean(row.Gold, bootstrap);
            var proxyCi = Bootstrap.Mean(row.Proxy, bootstrap + 1);
            var klCi = Bootstrap.Mean(row.Kl, bootstrap + 2);
            double win = 0.5, lc = 0.5;
            double[]? winCi = null;
            if (row.Name != MethodNames.Sft)
            {
                var o = outcomes[row.Name];
                win = WinRate.Of(o);
                var w = Bootstrap.Mean(o, bootstrap + 3);
                winCi = [w.Low, w.High];
                var lengthDifferences = row.Responses.Select((r, i) => (double)(r.Length - sftRow.Responses[i].Length)).ToArray();
                var others = outcomes.Where(kv => kv.Key != row.Name && kv.Key != MethodNames.Sft).Select(kv => (IReadOnlyList<double>)kv.Value).ToList();
                lc = LengthControlledWinRate.Fit(o, lengthDifferences, others.Count > 0 ? LengthControlledWinRate.InstructionDifficulty(others) : null).WinRate;
            }
            var result = new MethodResult(row.Name, gold.Estimate, [gold.Low, gold.High], proxyCi.Estimate, row.Name == MethodNames.Sft ? 0 : klCi.Estimate,
                win, lc, row.Lengths.Average(), Math.Round(row.Seconds, 1), [proxyCi.Low, proxyCi.High],
                row.Name == MethodNames.Sft ? [0, 0] : [klCi.Low, klCi.High], winCi, row.KlBound) { Samples = row.Drawn };
            results.Add(farm.Task is ISafetyTask safety ? WithSafety(result, row, safety) : result);
        }
        return results;
    }

    // The safety task's rates: harmful requests answered with gold cost above 0, benign requests refused.
    private MethodResult WithSafety(MethodResult result, Row row, ISafetyTask task)
    {
        var costs = row.Responses.Select((r, i) => task.Cost(prompts[i].Prompt.Text!, r)).ToArray();
        var harmful = Enumerable.Range(0, prompts.Count).Where(i => task.IsHarmfulRequest(prompts[i].Prompt.Text!)).ToArray();
        var benign = Enumerable.Range(0, prompts.Count).Except(harmful).ToArray();
        return result with
        {
            HarmfulRate = harmful.Length == 0 ? 0 : harmful.Count(i => costs[i] > 0) / (double)harmful.Length,
            OverRefusalRate = benign.Length == 0 ? 0 : benign.Count(i => task.IsRefusal(row.Responses[i])) / (double)benign.Length,
            GoldCost = costs.Average(),
        };
    }

    /// <summary>Each method's response to the first <paramref name="count"/> prompts, for the report.</summary>
    public IReadOnlyList<ExampleResponse> Examples(int count) =>
        [.. Enumerable.Range(0, Math.Min(count, prompts.Count)).SelectMany(i => rows.Select(r => new ExampleResponse(prompts[i].Prompt.Text!, r.Name, r.Responses[i], r.Gold[i])))];
}
