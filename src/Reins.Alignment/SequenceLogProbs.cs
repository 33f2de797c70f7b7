using Reins.Feedback.Batching;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment;

/// <summary>
/// log π(y|x) of labelled tokens, the quantity every preference and RL loss is built from: logits at position t score
/// the label at t+1, prompt and padding positions carry −100 and contribute nothing.
/// </summary>
public static class SequenceLogProbs
{
    /// <summary>Per-row sums Σ_t log π(y_t) [rows], per-row labelled-token counts, and the per-token log-probs [rows·length].</summary>
    public static (Tensor Sums, float[] Lengths, Tensor PerToken) Compute(CausalLanguageModel model, TokenBatch batch, float temperature = 1f)
    {
        var targets = batch.NextTokenTargets();
        var logits = model.Logits(batch.InputIds, batch.Rows, batch.Length, batch.AttentionMask);
        var perToken = Ops.TokenLogProbs(Ops.Reshape(logits, batch.Rows * batch.Length, model.Config.VocabSize), targets, temperature);
        var lengths = new float[batch.Rows];
        for (int i = 0; i < targets.Length; i++)
            if (targets[i] != TokenizedSequence.IgnoreIndex) lengths[i / batch.Length]++;
        for (int r = 0; r < batch.Rows; r++)
            if (lengths[r] == 0) throw new InvalidDataException($"row {r} of the batch has no completion tokens (its prompt filled max_length?).");
        return (Ops.Sum(Ops.Reshape(perToken, batch.Rows, batch.Length), 1), lengths, perToken);
    }
}
