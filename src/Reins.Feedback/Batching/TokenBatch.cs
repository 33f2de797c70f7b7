using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;

namespace Reins.Feedback.Batching;

/// <summary>
/// Padded token rows laid out row-major as [rows, length], in the shapes <c>CausalLanguageModel</c> takes: ids,
/// a float attention mask (1 real, 0 padding) and labels aligned with the ids (−100 on padding and unlearned positions).
/// </summary>
/// <param name="Rows">Batch rows.</param>
/// <param name="Length">Positions per row.</param>
/// <param name="InputIds">[rows, length] token ids.</param>
/// <param name="AttentionMask">[rows, length] 1 for real tokens, 0 for padding.</param>
/// <param name="Labels">[rows, length] labels aligned with the ids.</param>
public sealed record TokenBatch(int Rows, int Length, int[] InputIds, float[] AttentionMask, int[] Labels)
{
    /// <summary>The rows as a model reads them: ids and attention mask.</summary>
    public ModelInput Input => ModelInput.Padded(InputIds, Rows, Length, AttentionMask);

    /// <summary>
    /// The labels shifted one position left, so position t holds the token t+1 that its logits predict, with −100 at
    /// each row's end: the <c>targets</c> of <c>CausalLanguageModel.Loss</c>.
    /// </summary>
    public int[] NextTokenTargets()
    {
        var targets = new int[Labels.Length];
        for (int r = 0; r < Rows; r++)
        {
            int row = r * Length;
            Array.Copy(Labels, row + 1, targets, row, Length - 1);
            targets[row + Length - 1] = TokenizedSequence.IgnoreIndex;
        }
        return targets;
    }

    /// <summary>
    /// Position of a row's prompt's last token — the one before its first labelled real position — where heads that read
    /// the prompt do (a GPM's eigenvalue gates, ArmoRM's gate); its last real token when no position is labelled.
    /// </summary>
    public int PromptEndIndex(int row)
    {
        for (int t = 0; t < Length; t++)
            if (Labels[row * Length + t] != TokenizedSequence.IgnoreIndex && AttentionMask[row * Length + t] != 0) return Math.Max(0, t - 1);
        return LastTokenIndex(row);
    }

    /// <summary>Position of a row's last real token, where a reward or value head reads its score; −1 for an all-padding row.</summary>
    public int LastTokenIndex(int row)
    {
        for (int t = Length - 1; t >= 0; t--) if (AttentionMask[row * Length + t] != 0) return t;
        return -1;
    }
}
