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
        Ops.Linear(AtLastToken(hidden, attentionMask), this["score.weight"], null, Ops.WeightLayout.OutIn);

    /// <summary>Hidden states [B, C] at each sequence's last real token (see <see cref="LastToken"/>).</summary>
    public static Tensor AtLastToken(Tensor hidden, ReadOnlySpan<float> attentionMask)
    {
        int batch = hidden.Dim(0), time = hidden.Dim(1), c = hidden.Dim(2);
        var rows = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            int last = attentionMask.IsEmpty ? time - 1 : -1;
            if (!attentionMask.IsEmpty)
                for (int t = 0; t < time; t++) if (attentionMask[b * time + t] != 0) last = t;
            if (last < 0) throw new ArgumentException($"value head: sequence {b} of the batch has no real token (all padding).");
            rows[b] = b * time + last;
        }
        // Gathering rows is an embedding lookup into the flattened hidden states, whose backward scatters back.
        return Ops.Embedding(Ops.Reshape(hidden, batch * time, c), rows, batch);
    }
}
