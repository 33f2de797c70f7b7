using Reins.Models.Chat;
using Reins.Models.Tokenizers;

namespace Reins.Feedback.Tokenization;

/// <summary>A Hugging Face tokenizer and its chat format (chosen from tokenizer_config.json) as an <see cref="ITextEncoder"/>.</summary>
public sealed class TokenizerEncoder(Tokenizer tokenizer) : ITextEncoder
{
    private readonly ChatFormat chat = ChatFormat.For(tokenizer);

    /// <inheritdoc/>
    public int[] Encode(string text) => tokenizer.Encode(text);

    /// <inheritdoc/>
    public int? BosId => tokenizer.BosId;

    /// <inheritdoc/>
    public int? EosId => tokenizer.EosId;

    /// <inheritdoc/>
    public int? PadId => tokenizer.PadId;

    /// <inheritdoc/>
    public (int[] Ids, bool[] AssistantMask) EncodeConversation(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var encoding = chat.Encode(tokenizer, messages, addGenerationPrompt);
        return (encoding.Ids, encoding.AssistantMask);
    }
}
