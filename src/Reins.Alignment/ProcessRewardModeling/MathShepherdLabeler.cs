using System.Text.Json;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.ProcessRewards;
using Reins.Rewards.Sources;

namespace Reins.Alignment.ProcessRewardModeling;

/// <summary>How a step's label is estimated from the completions sampled after it (Math-Shepherd §3.3).</summary>
public enum StepEstimate
{
    /// <summary>Hard estimation: 1 when any completion reaches a correct answer, else 0.</summary>
    Hard,
    /// <summary>Soft estimation: the fraction of completions that reach a correct answer.</summary>
    Soft,
}

/// <summary>One labelled solution: the problem, its steps, one estimate per step, and the fields of its record.</summary>
/// <param name="Problem">The problem.</param>
/// <param name="Steps">The solution's steps.</param>
/// <param name="Estimates">Per step, the fraction of completions from its prefix that reached a correct answer (the last step: whether the solution itself is correct, 0 or 1).</param>
/// <param name="Extra">The record's other fields (answer, …).</param>
public sealed record LabelledSolution(string Problem, IReadOnlyList<string> Steps, IReadOnlyList<double> Estimates, IReadOnlyDictionary<string, JsonElement> Extra)
{
    /// <summary>The labels of <paramref name="estimate"/>: any success (hard, as booleans) or the success fraction (soft).</summary>
    public object[] Labels(StepEstimate estimate) => [.. Estimates.Select(e => estimate == StepEstimate.Hard ? e > 0 : (object)e)];
}

/// <summary>
/// Step labels without people (Wang et al. 2024, "Math-Shepherd"): a step is as good as the answers reachable from it.
/// For every step of a solution, the policy completes the solution <c>n</c> times from the prefix ending with that step,
/// and the verifier judges each completion's final answer; the last step is labelled by the solution's own answer. The
/// policy sees the problem as a prompt and the steps as the start of its completion, joined by the step separator, as
/// it was fine-tuned; each prefix's samples are drawn from their own seed, so the labels do not depend on batching.
/// </summary>
public sealed class MathShepherdLabeler(CausalLanguageModel policy, ITextEncoder encoder, Func<int[], string> decode, IRewardSource verifier,
    SamplingOptions sampling, string stepSeparator = "\n", float correctScore = 1f)
{
    private readonly DatasetTokenizer tokenizer = new(encoder, new TokenizationOptions { MaxLength = null, MaxPromptLength = null, AppendEos = false });
    private readonly int eosId = encoder.EosId ?? throw new ArgumentException("the tokenizer has no EOS id, so completions could never finish.", nameof(encoder));

    /// <summary>
    /// Solutions the policy writes for <paramref name="record"/>: <paramref name="count"/> samples (seeded by
    /// <paramref name="recordIndex"/>), each split into steps at the separator, empty ones dropped. A sample with no step is skipped.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>> SampleSolutions(PromptOnlyExample record, int recordIndex, int count)
    {
        var prompt = tokenizer.Prompt(record)!.InputIds;
        var options = sampling with { NumReturnSequences = count, StopTokenIds = [eosId], PromptSeeds = [Seed(recordIndex, -1, -1)] };
        return [.. Generator.Generate(policy, [prompt], options, decode)
            .Select(s => (IReadOnlyList<string>)StepSolution.Split(s.Text!, stepSeparator).Steps)
            .Where(steps => steps.Count > 0)];
    }

    /// <summary>Labels each step of one solution of <paramref name="record"/> (<paramref name="solution"/> numbers it within the record, for seeding).</summary>
    public LabelledSolution Label(PromptOnlyExample record, int recordIndex, int solution, IReadOnlyList<string> steps, CancellationToken cancellation = default)
    {
        if (record.Prompt.Text is not { } problem) throw new ArgumentException($"line {record.Line}: step labels need a text prompt, not a conversation.", nameof(record));
        if (steps.Count == 0) throw new ArgumentException($"line {record.Line}: a solution needs at least one step.", nameof(steps));
        var promptIds = tokenizer.Prompt(record)!.InputIds;
        int n = sampling.NumReturnSequences;
        // Prefix k holds steps 0 … k, each followed by the separator; the completions continue from there.
        var prefixes = Enumerable.Range(0, steps.Count - 1).Select(k => string.Concat(steps.Take(k + 1).Select(s => s + stepSeparator))).ToArray();
        var requests = new List<ScoringRequest>();
        if (prefixes.Length > 0)
        {
            var prefixIds = prefixes.Select(encoder.Encode).ToArray();
            var options = sampling with { StopTokenIds = [eosId], PromptSeeds = [.. Enumerable.Range(0, prefixes.Length).Select(k => Seed(recordIndex, solution, k))] };
            foreach (var sample in Generator.Generate(policy, [.. prefixIds.Select(ids => (int[])[.. promptIds, .. ids])], options, decode).OrderBy(s => s.PromptIndex).ThenBy(s => s.SampleIndex))
            {
                cancellation.ThrowIfCancellationRequested();
                int k = sample.PromptIndex;
                requests.Add(new ScoringRequest(problem, prefixes[k] + sample.Text, promptIds, [.. prefixIds[k], .. sample.Tokens],
                    sample.FinishReason == FinishReason.Stop, record.Extra));
            }
        }
        string whole = string.Join(stepSeparator, steps);
        requests.Add(new ScoringRequest(problem, whole, promptIds, encoder.Encode(whole), true, record.Extra));
        var scores = verifier.Score(requests, cancellation);
        var estimates = new double[steps.Count];
        for (int k = 0; k < prefixes.Length; k++)
            estimates[k] = Enumerable.Range(k * n, n).Count(i => scores[i] >= correctScore) / (double)n;
        estimates[^1] = scores[^1] >= correctScore ? 1 : 0;
        return new LabelledSolution(problem, steps, estimates, record.Extra);
    }

    // Every (record, solution, prefix) draws from its own stream, so neither batching nor resuming changes a label.
    private ulong Seed(int record, int solution, int prefix) =>
        ((sampling.Seed * 1_000_003UL + (ulong)record) * 1_009UL + (ulong)(solution + 1)) * 10_007UL + (ulong)(prefix + 1);
}
