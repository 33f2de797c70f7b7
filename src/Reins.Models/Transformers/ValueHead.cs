using Reins.Tensors;
using Reins.Tensors.Nn;

namespace Reins.Models.Transformers;

/// <summary>
/// A linear head on the last hidden state, stored as Hugging Face's …ForSequenceClassification does
/// (<c>score.weight</c> [num_labels, hidden], no bias). Reward models read it at each sequence's last real
/// token; PPO critics read it at every position.
/// </summary>
public sealed class ValueHead : Module
{
    /// <summary>Outputs per position (1 for a scalar reward or value).</summary>
    public int NumLabels { get; }

    /// <summary>Creates the head with N(0, std) weights.</summary>
    public ValueHead(int hidden, int numLabels, Rng rng, float std = 0.02f)
    {
        NumLabels = numLabels;
        Register("score.weight", Tensor.Normal(rng, 0, std, numLabels, hidden));
    }

    /// <summary>Scores at every position: hidden [B, T, C] → [B, T, num_labels].</summary>
    public Tensor AllPositions(Tensor hidden) => Ops.Linear(hidden, this["score.weight"], null, Ops.WeightLayout.OutIn);

    /// <summary>
    /// Scores at each sequence's last real token: [B, num_labels]. With right padding that is the last 1 of the
    /// mask; with left padding it is position T−1. A row with no real token is an error.
    /// </summary>
    public Tensor LastToken(Tensor hidden, ReadOnlySpan<float> attentionMask) =>
        Ops.Linear(AtLastToken(hidden, attentionMask, hidden.Dim(1)), this["score.weight"], null, Ops.WeightLayout.OutIn);

    /// <summary>
    /// Hidden states [B, C] at each sequence's last real token (see <see cref="LastToken"/>). hidden [B, T′, C] holds
    /// the last T′ of the <paramref name="time"/> positions the mask [B·time] covers (T′ = time unless the model was
    /// asked for its last positions only).
    /// </summary>
    public static Tensor AtLastToken(Tensor hidden, ReadOnlySpan<float> attentionMask, int time)
    {
        int batch = hidden.Dim(0), held = hidden.Dim(1), c = hidden.Dim(2), skipped = time - held;
        var rows = LastRealTokens(attentionMask, batch, time);
        for (int b = 0; b < batch; b++)
        {
            if (rows[b] < skipped) throw new ArgumentException($"value head: sequence {b}'s last real token {rows[b]} is before the {held} positions held.");
            rows[b] = b * held + rows[b] - skipped;
        }
        // Gathering rows is an embedding lookup into the flattened hidden states, whose backward scatters back.
        return Ops.Embedding(Ops.Reshape(hidden, batch * held, c), rows, batch);
    }

    /// <summary>Each sequence's last real position (mask [B·time], empty = all real); a row of padding only is an error.</summary>
    public static int[] LastRealTokens(ReadOnlySpan<float> attentionMask, int batch, int time)
    {
        var last = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            last[b] = attentionMask.IsEmpty ? time - 1 : -1;
            if (!attentionMask.IsEmpty)
                for (int t = 0; t < time; t++) if (attentionMask[b * time + t] != 0) last[b] = t;
            if (last[b] < 0) throw new ArgumentException($"value head: sequence {b} of the batch has no real token (all padding).");
        }
        return last;
    }
}
