using System.Text.Json;
using Reins.Alignment.Online;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Chat;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Tests.Online;

/// <summary>
/// A task small enough to learn in seconds: the prompt is BOS and one letter, the record's "answer" is that letter,
/// and the reward is the share of the first <see cref="CompletionLength"/> completion characters equal to it (a
/// random policy over 16 tokens scores about 1/16). Ids 0–11 are the letters a–l, then BOS, EOS, PAD and one unused.
/// </summary>
internal sealed class TinyTask : ITextEncoder
{
    public const int Bos = 12, Eos = 13, Pad = 14, Vocab = 16, CompletionLength = 4;

    public int? BosId => Bos;
    public int? EosId => Eos;
    public int? PadId => Pad;

    public int[] Encode(string text) => [.. text.Select(c => c - 'a')];

    public (int[] Ids, bool[] AssistantMask) EncodeConversation(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        throw new NotSupportedException("the tiny task has text prompts only");

    /// <summary>Letters as text; BOS, EOS and padding are left out, as a tokenizer skips special tokens.</summary>
    public static string Decode(int[] ids) => new([.. ids.Where(id => id < Bos).Select(id => (char)('a' + id))]);

    /// <summary>A GPT-2 of width 32 and two layers over the 16 ids.</summary>
    public static CausalLanguageModel Model(ulong seed = 1) => CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: Vocab, hidden: 32, layers: 2, heads: 4, maxPositions: 32), seed);

    /// <summary>One prompt per letter of <paramref name="letters"/>, each with its answer field.</summary>
    public static IReadOnlyList<PromptOnlyExample> Prompts(string letters = "abcdef") =>
        [.. letters.Select(c => new PromptOnlyExample(TextOrConversation.FromText(c.ToString()))
        {
            Extra = new Dictionary<string, JsonElement> { ["answer"] = JsonSerializer.SerializeToElement(c.ToString()) },
        })];

    /// <summary>What an online trainer learns from: <paramref name="prompts"/> (default: one per letter a–f) scored by <paramref name="reward"/>.</summary>
    public static OnlineInputs Inputs(IRewardSource reward, IReadOnlyList<PromptOnlyExample>? prompts = null) => new(new TinyTask(), Decode, reward, prompts ?? Prompts());

    /// <summary>The share of the first four completion characters that repeat the prompt's letter.</summary>
    public static FunctionRewardSource Reward() => new("copy", r =>
    {
        char answer = VerifiableRewards.Field(r, "answer", "copy")[0];
        return r.Completion.Take(CompletionLength).Count(c => c == answer) / (float)CompletionLength;
    });
}
