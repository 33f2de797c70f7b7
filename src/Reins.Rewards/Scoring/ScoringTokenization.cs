using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Rewards.Sources;

namespace Reins.Rewards.Scoring;

/// <summary>
/// Turns what is scored into the sequences a reward model reads, built exactly as its training built them (BOS, prompt,
/// response, EOS, or the chat template). A sequence longer than the model takes keeps its end, where the score is read.
/// </summary>
public static class ScoringTokenization
{
    /// <summary>Tokenisation options for scoring: no length limit but <paramref name="maxLength"/>, kept from the end.</summary>
    public static TokenizationOptions Options(int maxLength, bool appendEos = true) =>
        new() { MaxLength = maxLength, TruncationMode = TruncationMode.KeepEnd, AppendEos = appendEos };

    /// <summary>
    /// The sequences of <paramref name="requests"/>: their token ids as they are, or their texts re-encoded with the reward
    /// model's tokenizer, EOS appended only to completions that finished (an unfinished one is scored as it stands).
    /// </summary>
    public static IReadOnlyList<TokenizedSequence> FromRequests(IReadOnlyList<ScoringRequest> requests, ITextEncoder encoder, int maxLength, bool useTokenIds)
    {
        if (useTokenIds)
            return [.. requests.Select((r, i) => r.PromptIds.Length + r.CompletionIds.Length > 0
                ? KeepEnd([.. r.PromptIds, .. r.CompletionIds], maxLength)
                : throw new ArgumentException($"reward scoring: request {i} has no token ids.", nameof(requests)))];
        var finished = new DatasetTokenizer(encoder, Options(maxLength, appendEos: encoder.EosId is not null));
        var unfinished = new DatasetTokenizer(encoder, Options(maxLength, appendEos: false));
        return [.. requests.Select(r => (r.Finished ? finished : unfinished).Sft(
            new PromptCompletionExample(TextOrConversation.FromText(r.Prompt), TextOrConversation.FromText(r.Completion)))!)];
    }

    private static TokenizedSequence KeepEnd(int[] ids, int maxLength)
    {
        var kept = ids.Length > maxLength ? ids[^maxLength..] : ids;
        return new TokenizedSequence(kept, kept);
    }
}
