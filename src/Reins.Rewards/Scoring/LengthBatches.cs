using Reins.Feedback.Batching;
using Reins.Feedback.Tokenization;

namespace Reins.Rewards.Scoring;

/// <summary>
/// Inference batches of sequences taken in order of length, so the rows of a batch need little padding: each batch
/// gives the input indices of its rows and their padded tokens (padding is masked, so the pad id does not matter).
/// </summary>
public static class LengthBatches
{
    /// <summary>
    /// Batches of at most <paramref name="batchSize"/> rows; with <paramref name="maxLength"/>, a sequence that is empty or
    /// longer is an error naming <paramref name="model"/> and the sequence.
    /// </summary>
    public static IEnumerable<(int[] Rows, TokenBatch Tokens)> Of(IReadOnlyList<TokenizedSequence> sequences, int batchSize, int padId,
        CancellationToken cancellation, int? maxLength = null, string model = "model")
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"{model}: batch size must be positive.");
        var byLength = Enumerable.Range(0, sequences.Count).OrderBy(i => sequences[i].Length).ToArray();
        var collator = new BatchCollator(new PaddingOptions(padId));
        for (int start = 0; start < byLength.Length; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            var rows = byLength[start..Math.Min(start + batchSize, byLength.Length)];
            if (maxLength is { } max)
                foreach (int i in rows)
                    if (sequences[i].Length > max || sequences[i].Length == 0)
                        throw new ArgumentException($"{model}: sequence {i} has {sequences[i].Length} tokens; the model takes 1 to {max}.", nameof(sequences));
            yield return (rows, collator.Sft([.. rows.Select(i => sequences[i])]).Tokens);
        }
    }
}
