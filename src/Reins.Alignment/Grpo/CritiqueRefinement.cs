using System.Text.Json;
using Reins.Alignment.Online;
using Reins.Feedback.Datasets;
using Reins.Feedback.Sampling;
using Reins.Feedback.Tokenization;
using Reins.Models.Chat;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Critics;
using Reins.Rewards.ProcessRewards;

namespace Reins.Alignment.Grpo;

/// <summary>What Critique-GRPO tells the policy about a failed response.</summary>
public enum CritiqueType
{
    /// <summary>"The generated solution is incorrect." (the paper's indicative critique).</summary>
    Indicative,
    /// <summary>"The generated solution is incorrect, the ground truth is X." with X from the record's answer field (the authors' released default).</summary>
    GroundTruth,
    /// <summary>A generative critic's critique of the response split into steps (the paper's chain-of-thought critiques, which it had GPT-4o write).</summary>
    Critic,
}

/// <summary>
/// Critique-GRPO's refinements (Zhang et al. 2025, arXiv 2506.03106 §4.2): of each group of G samples, the first
/// n = G − k are the policy's initial responses. When none of them is correct (its reward below the correct score), each
/// gets a critique, the policy rewrites it shown the question, its response and the critique, and k of the refinements —
/// the correct ones first, the rest drawn at random — take the group's last k places; a group with a correct response
/// keeps its G samples. A refinement is scored, and later learned from, as an answer to the question alone.
/// </summary>
public sealed class CritiqueRefinement(int refinements, CritiqueType critique, float correctScore, GenerativeCritic? critic = null, string answerField = "answer") : IRolloutRefinement
{
    private readonly GenerativeCritic? critic = critique != CritiqueType.Critic || critic is not null ? critic
        : throw new ArgumentException("critique refinement: critique_type critic needs a critic model.", nameof(critic));

    /// <inheritdoc/>
    public RefinedCompletions Refine(CausalLanguageModel policy, IReadOnlyList<TokenizedPrompt> batch, ScoredCompletions scored, CompletionSampler sampler,
        SamplingOptions options, float? missingEosPenalty, Dictionary<string, double> metrics, CancellationToken cancellation)
    {
        int g = options.NumReturnSequences, n = g - refinements;
        var failed = Enumerable.Range(0, batch.Count).Where(p => Enumerable.Range(p * g, n).All(r => !(scored.Scores[r] >= correctScore))).ToArray();
        metrics["critique/refined_fraction"] = (double)failed.Length / batch.Count;
        var offPolicy = new bool[scored.Samples.Count];
        if (failed.Length == 0) return new RefinedCompletions(scored, offPolicy);

        // One refinement of each initial response of every failed group, in one generation call.
        var owners = failed.SelectMany(p => Enumerable.Range(p * g, n).Select(row => (Prompt: p, Row: row))).ToArray();
        var critiques = Critiques(owners.Select(o => (batch[o.Prompt].Source, scored.Samples[o.Row].Text!)).ToArray(), cancellation);
        var requests = owners.Select((o, i) => RefinementRecord(batch[o.Prompt].Source, scored.Samples[o.Row].Text!, critiques[i])).ToArray();
        var tokenized = sampler.Tokenize(requests);
        if (tokenized.Count != requests.Length) throw new InvalidOperationException("critique refinement: a refinement prompt was dropped as too long.");
        var samples = sampler.Generate(policy, tokenized, options with { NumReturnSequences = 1, Seed = options.Seed ^ 0xC21717UL, PromptSeeds = null })
            .OrderBy(s => s.PromptIndex).ToArray();
        // Scored as answers to the question: the reward sees the original record, as for the initial responses.
        var refined = sampler.Score([.. owners.Select(o => batch[o.Prompt])], samples, missingEosPenalty, cancellation);
        metrics["critique/refinement_correct"] = refined.Scores.Count(s => s >= correctScore) / (double)refined.Scores.Length;

        var result = scored.Samples.ToArray();
        var scores = (float[])scored.Scores.Clone();
        var components = scored.Components.Select(c => (c.Name, Scores: (float[])c.Scores.Clone())).ToArray();
        var scoringRequests = scored.Requests.ToArray();
        for (int f = 0; f < failed.Length; f++)
        {
            int p = failed[f];
            int[] mine = [.. Enumerable.Range(f * n, n)];
            var correct = mine.Where(j => refined.Scores[j] >= correctScore).ToArray();
            var others = mine.Except(correct).ToArray();
            var order = Permutation.Shuffled(others.Length, options.Seed ^ (ulong)(p + 1) * 0x9E3779B97F4A7C15UL);
            int[] chosen = [.. correct.Concat(order.Select(i => others[i])).Take(refinements)];
            for (int i = 0; i < chosen.Length; i++)
            {
                int row = p * g + n + i, j = chosen[i];
                // The row keeps its prompt; only the tokens (and what is said of them) change.
                result[row] = samples[j] with { PromptIndex = result[row].PromptIndex, SampleIndex = result[row].SampleIndex, PromptIds = result[row].PromptIds };
                scores[row] = refined.Scores[j];
                foreach (var (name, values) in components) values[row] = refined.Components.First(c => c.Name == name).Scores[j];
                scoringRequests[row] = refined.Requests[j] with { PromptIds = scored.Requests[row].PromptIds };
                offPolicy[row] = true;
            }
        }
        return new RefinedCompletions(new ScoredCompletions(result, scoringRequests, scores, [.. components.Select(c => new Reins.Rewards.Sources.RewardComponent(c.Name, c.Scores))]), offPolicy);
    }

    // Each failed response's critique; a critic reads the response's lines as its steps.
    private string[] Critiques((PromptOnlyExample Source, string Response)[] failed, CancellationToken cancellation) => critique switch
    {
        CritiqueType.Indicative => [.. failed.Select(_ => "The generated solution is incorrect.")],
        CritiqueType.GroundTruth => [.. failed.Select(f => $"The generated solution is incorrect, the ground truth is {Answer(f.Source)}.")],
        _ => [.. critic!.Judge([.. failed.Select(f => new StepSolution(Question(f.Source), Steps(f.Response)))], 16, cancellation).Select(c => c.Text)],
    };

    private static string Question(PromptOnlyExample source) => source.Prompt.Text ?? source.Prompt.Messages!.Last(m => m.Role == "user").Content;

    // A response's lines as steps; an empty response is one empty-looking step, so the critic still sees it.
    private static string[] Steps(string response) =>
        StepSolution.Split(response, "\n").Steps is { Length: > 0 } steps ? steps : ["(no answer)"];

    // The refinement prompt of one response, with the record's fields (the reward reads them) and its conversation's form.
    private PromptOnlyExample RefinementRecord(PromptOnlyExample source, string response, string critiqueText)
    {
        var prompt = source.Prompt.Messages is { } messages
            ? TextOrConversation.FromMessages([.. messages.Where(m => m.Role == "system"),
                new ChatMessage("user", RefinementPrompt.Render(messages.Last(m => m.Role == "user").Content, response, critiqueText))])
            : TextOrConversation.FromText(RefinementPrompt.Render(source.Prompt.Text!, response, critiqueText));
        return source with { Prompt = prompt };
    }

    private string Answer(PromptOnlyExample source) =>
        source.Extra.TryGetValue(answerField, out var value)
            ? value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText()
            : throw new InvalidDataException($"critique refinement: the ground-truth critique reads the field \"{answerField}\", which the prompt record of line {source.Line} lacks.");
}
