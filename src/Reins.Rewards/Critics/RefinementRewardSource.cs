using System.Text.Json;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Rewards.Critics;

/// <summary>
/// RefCritic's refinement reward (Tang et al. 2025): a critique is worth what it helps a policy fix. Each completion is a
/// critic's critique of the solution in its record (<c>problem</c> and <c>steps</c>, as `reins critique prompts` writes
/// them); the policy rewrites the solution shown the critique (<see cref="RefinementPrompt"/>) and the verifier scores
/// the rewrite with the record's fields (its <c>answer</c>, …). The rewrite of completion i is drawn from its own seed.
/// </summary>
public sealed class RefinementRewardSource : IRewardSource
{
    private readonly CausalLanguageModel policy;
    private readonly Func<int[], string> decode;
    private readonly IRewardSource verifier;
    private readonly SamplingOptions sampling;
    private readonly DatasetTokenizer tokenizer;

    /// <summary>A reward that refines with <paramref name="policy"/> (decoding as <paramref name="sampling"/> says) and scores with <paramref name="verifier"/>.</summary>
    public RefinementRewardSource(CausalLanguageModel policy, ITextEncoder encoder, Func<int[], string> decode, IRewardSource verifier, SamplingOptions sampling, string name = "refinement")
    {
        int room = policy.Config.MaxPositions - sampling.MaxNewTokens;
        if (room < 1) throw new ArgumentException($"refinement reward: {sampling.MaxNewTokens} new tokens leave no room for a prompt in the policy's {policy.Config.MaxPositions} positions.", nameof(sampling));
        (this.policy, this.decode, this.verifier, Name) = (policy, decode, verifier, name);
        this.sampling = sampling with { NumReturnSequences = 1, StopTokenIds = encoder.EosId is { } eos ? [eos] : [] };
        tokenizer = new DatasetTokenizer(encoder, new TokenizationOptions { MaxLength = null, MaxPromptLength = room, AppendEos = false });
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
    {
        var problems = requests.Select(r => VerifiableRewards.Field(r, "problem", Name)).ToArray();
        var prompts = requests.Select((r, i) => tokenizer.Prompt(new PromptOnlyExample(TextOrConversation.FromText(
            RefinementPrompt.Render(problems[i], string.Join("\n", Steps(r)), r.Completion))))!.InputIds).ToArray();
        var options = sampling with { PromptSeeds = [.. Enumerable.Range(0, requests.Count).Select(i => sampling.Seed * 1_000_003UL + (ulong)i)] };
        var rewrites = Generator.Generate(policy, prompts, options, decode).OrderBy(s => s.PromptIndex).ToArray();
        cancellation.ThrowIfCancellationRequested();
        return verifier.Score([.. rewrites.Select(s => new ScoringRequest(problems[s.PromptIndex], s.Text!, s.PromptIds, s.Tokens,
            s.FinishReason == FinishReason.Stop, requests[s.PromptIndex].Extra))], cancellation);
    }

    private string[] Steps(ScoringRequest request) =>
        request.Extra.TryGetValue("steps", out var steps) && steps.ValueKind == JsonValueKind.Array && steps.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String)
            ? [.. steps.EnumerateArray().Select(s => s.GetString()!)]
            : throw new InvalidDataException($"reward '{Name}' reads the field \"steps\" (a list of strings), which this prompt record lacks or holds otherwise (fields: {string.Join(", ", request.Extra.Keys)}).");
}
