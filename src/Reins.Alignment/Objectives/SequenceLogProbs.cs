using Reins.Feedback.Batching;
using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.Objectives;

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
        var logits = model.Logits(batch.Input);
        var perToken = Ops.TokenLogProbs(Ops.Reshape(logits, batch.Rows * batch.Length, model.Config.VocabSize), targets, temperature);
        var lengths = new float[batch.Rows];
        for (int i = 0; i < targets.Length; i++)
            if (targets[i] != TokenizedSequence.IgnoreIndex) lengths[i / batch.Length]++;
        for (int r = 0; r < batch.Rows; r++)
            if (lengths[r] == 0) throw new InvalidDataException($"row {r} of the batch has no completion tokens (its prompt filled max_length?).");
        return (Ops.Sum(Ops.Reshape(perToken, batch.Rows, batch.Length), 1), lengths, perToken);
    }

    /// <summary>
    /// The per-row sums of <see cref="Compute"/> under a model this step does not train (a reference), without gradients
    /// and in a memory scope of their own: the pass's activations and logits go back to the pool when it returns, for the
    /// trained model's forward to reuse, instead of living on the step's tape until its end.
    /// </summary>
    public static float[] FrozenSums(CausalLanguageModel model, TokenBatch batch)
    {
        using var scope = new Tape(recordGradients: false);
        return Compute(model, batch).Sums.ToArray();
    }

    /// <summary>
    /// log π of each generated token of <paramref name="samples"/> under <paramref name="model"/>, teacher-forced at
    /// temperature 1 (prompt and completion right-padded together), <paramref name="rowsPerBatch"/> rows per forward.
    /// </summary>
    public static float[][] OfCompletions(CausalLanguageModel model, IReadOnlyList<GeneratedSequence> samples, int padId, int rowsPerBatch)
    {
        var result = new float[samples.Count][];
        for (int start = 0; start < samples.Count; start += rowsPerBatch)
        {
            var chunk = samples.Skip(start).Take(rowsPerBatch).ToList();
            int length = chunk.Max(s => s.PromptIds.Length + s.Tokens.Length);
            var ids = new int[chunk.Count * length];
            var labels = new int[chunk.Count * length];
            var mask = new float[chunk.Count * length];
            Array.Fill(ids, padId);
            Array.Fill(labels, TokenizedSequence.IgnoreIndex);
            for (int r = 0; r < chunk.Count; r++)
            {
                int[] full = [.. chunk[r].PromptIds, .. chunk[r].Tokens];
                full.CopyTo(ids, r * length);
                mask.AsSpan(r * length, full.Length).Fill(1);
                chunk[r].Tokens.CopyTo(labels, r * length + chunk[r].PromptIds.Length);
            }
            using var tape = new Tape(recordGradients: false);
            var perToken = Compute(model, new TokenBatch(chunk.Count, length, ids, mask, labels)).PerToken.ToArray();
            // Position t scores token t + 1, so a completion starting at p is read from positions p − 1 onwards.
            for (int r = 0; r < chunk.Count; r++)
                result[start + r] = perToken.AsSpan(r * length + chunk[r].PromptIds.Length - 1, chunk[r].Tokens.Length).ToArray();
        }
        return result;
    }
}
