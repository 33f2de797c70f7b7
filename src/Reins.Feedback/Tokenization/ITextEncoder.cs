using Reins.Models.Chat;
using Reins.Feedback.Datasets;

namespace Reins.Feedback.Tokenization;

/// <summary>
/// The little of a tokenizer that dataset preparation needs: plain encoding, the special ids, and a chat template
/// that marks which tokens the assistant wrote (HF's <c>return_assistant_tokens_mask</c>).
/// </summary>
public interface ITextEncoder
{
    /// <summary>Token ids of <paramref name="text"/>, without special tokens.</summary>
    int[] Encode(string text);

    /// <summary>Beginning-of-sequence id, if the vocabulary has one.</summary>
    int? BosId { get; }

    /// <summary>End-of-sequence id, if the vocabulary has one.</summary>
    int? EosId { get; }

    /// <summary>Padding id, if the vocabulary has one.</summary>
    int? PadId { get; }

    /// <summary>
    /// Renders <paramref name="messages"/> with the chat template (special tokens included) and encodes it; the mask is
    /// true on tokens of assistant turns. With <paramref name="addGenerationPrompt"/> the header of a new assistant turn is appended.
    /// </summary>
    (int[] Ids, bool[] AssistantMask) EncodeConversation(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);
}
