namespace Reins.Models.Chat;

/// <summary>
/// A tokenized conversation. <see cref="AssistantMask"/> marks the tokens the assistant wrote, its content and its
/// end-of-turn token, which are the only ones trained on with TRL's assistant_only_loss.
/// </summary>
public sealed record ChatEncoding(int[] Ids, bool[] AssistantMask);
