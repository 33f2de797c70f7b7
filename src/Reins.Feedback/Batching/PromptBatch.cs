using System.Text.Json;
using Reins.Feedback.Datasets;

namespace Reins.Feedback.Batching;

/// <summary>
/// Prompts for online RL (PPO, GRPO, RLOO), left-padded so generation appends at the same position in every row,
/// with the records they came from for the reward functions.
/// </summary>
/// <param name="Rows">Prompts.</param>
/// <param name="Length">Positions per row.</param>
/// <param name="InputIds">[rows, length] left-padded ids.</param>
/// <param name="AttentionMask">[rows, length] 1 for real tokens.</param>
/// <param name="Sources">The records, one per row.</param>
public sealed record PromptBatch(int Rows, int Length, int[] InputIds, float[] AttentionMask, IReadOnlyList<PromptOnlyExample> Sources)
{
    /// <summary>Each row's extra fields (an <c>answer</c>, a <c>category</c>, …).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, JsonElement>> Extra => Sources.Select(s => s.Extra).ToArray();
}
