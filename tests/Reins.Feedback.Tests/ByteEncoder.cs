using Reins.Models.Chat;
using System.Text;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;

namespace Reins.Feedback.Tests;

/// <summary>
/// A byte-level stand-in for the real tokenizer: ids 0–255 are UTF-8 bytes, then BOS, EOS (which also closes a chat
/// turn, as Qwen's &lt;|im_end|&gt; does), PAD and one token per role. Chat rendering: BOS, then per message the role
/// token, the content bytes and EOS; the assistant mask covers an assistant turn's content and its EOS.
/// </summary>
internal sealed class ByteEncoder : ITextEncoder
{
    public const int Bos = 256, Eos = 257, Pad = 258, SystemRole = 259, UserRole = 260, AssistantRole = 261, OtherRole = 262, Think = 263;

    /// <summary>Mimics templates that render the generation prompt differently from a finished turn (reasoning models).</summary>
    public bool ThinkingGenerationPrompt { get; init; }

    public int? BosId => Bos;
    public int? EosId => Eos;
    public int? PadId => Pad;

    public int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();

    public (int[] Ids, bool[] AssistantMask) EncodeConversation(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var ids = new List<int> { Bos };
        var mask = new List<bool> { false };
        foreach (var message in messages)
        {
            bool assistant = message.Role == "assistant";
            ids.Add(RoleToken(message.Role));
            mask.Add(false);
            foreach (int b in Encode(message.Content))
            {
                ids.Add(b);
                mask.Add(assistant);
            }
            ids.Add(Eos);
            mask.Add(assistant);
        }
        if (addGenerationPrompt)
        {
            ids.Add(AssistantRole);
            mask.Add(false);
            if (ThinkingGenerationPrompt)
            {
                ids.Add(Think);
                mask.Add(false);
            }
        }
        return (ids.ToArray(), mask.ToArray());
    }

    private static int RoleToken(string role) => role switch
    {
        "system" => SystemRole,
        "user" => UserRole,
        "assistant" => AssistantRole,
        _ => OtherRole,
    };

    /// <summary>Ids as readable text, specials in angle brackets, for assertion messages and expectations.</summary>
    public static string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            sb.Append(id switch
            {
                TokenizedSequence.IgnoreIndex => "_",
                >= 0 and < 256 => ((char)id).ToString(),
                Bos => "<bos>",
                Eos => "<eos>",
                Pad => "<pad>",
                SystemRole => "<system>",
                UserRole => "<user>",
                AssistantRole => "<assistant>",
                Think => "<think>",
                _ => $"<{id}>",
            });
        }
        return sb.ToString();
    }
}
