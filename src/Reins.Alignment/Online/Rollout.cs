using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Alignment.Online;

/// <summary>
/// One batch of sampled completions in the layout every online trainer consumes. Row r holds prompt r / G (G samples
/// per prompt, adjacent), left-padded to <see cref="PromptLength"/>, then its completion right-padded to
/// <see cref="CompletionLength"/>. Per-token arrays are [Rows, CompletionLength]: entry t of a row belongs to its t-th
/// generated token, which the model scores with its output at position PromptLength − 1 + t. The stages of an update
/// fill the later fields in turn: reference log-probs, values, scores, advantages.
/// </summary>
public sealed class Rollout
{
    /// <summary>Completions.</summary>
    public int Rows { get; }
    /// <summary>Prompt positions per row (the longest prompt; shorter ones are left-padded).</summary>
    public int PromptLength { get; }
    /// <summary>Completion positions per row (the longest completion; shorter ones are right-padded).</summary>
    public int CompletionLength { get; }
    /// <summary>Samples per prompt (G); rows r and r' share a prompt when r / G = r' / G.</summary>
    public int SamplesPerPrompt { get; }
    /// <summary>[Rows, PromptLength + CompletionLength] token ids (padding holds the pad id).</summary>
    public int[] InputIds { get; }
    /// <summary>[Rows, PromptLength + CompletionLength]: 1 on prompt and completion tokens, 0 on padding either side.</summary>
    public float[] AttentionMask { get; }
    /// <summary>Generated tokens per row, the stop token included.</summary>
    public int[] Lengths { get; }
    /// <summary>Whether each row ended with the stop token (EOS), rather than at max_completion_length.</summary>
    public bool[] Finished { get; }
    /// <summary>[Rows, CompletionLength]: 1 on generated tokens, 0 on the padding after a row's last token.</summary>
    public float[] CompletionMask { get; }
    /// <summary>[Rows, CompletionLength] log softmax(logits / T) of each sampled token under the sampling policy (π_old), T the trainer's log-prob temperature.</summary>
    public float[] LogProbs { get; }
    /// <summary>The samples as the generator returned them (prompt ids, tokens, text, finish reason).</summary>
    public IReadOnlyList<GeneratedSequence> Samples { get; }

    /// <summary>[Rows, CompletionLength] log-probs of the same tokens under the frozen reference model, or null without one.</summary>
    public float[]? ReferenceLogProbs { get; set; }
    /// <summary>[Rows, CompletionLength] the critic's value before each token (PPO), or null.</summary>
    public float[]? Values { get; set; }
    /// <summary>[Rows] the reward of each completion (after the missing-EOS penalty).</summary>
    public float[] Scores { get; set; } = [];
    /// <summary>What the reward saw of each row (texts, ids, whether it finished, the record's fields), for judges comparing rows.</summary>
    public IReadOnlyList<ScoringRequest> Requests { get; set; } = [];
    /// <summary>Each reward source's own scores, for rewards/&lt;name&gt;/mean.</summary>
    public IReadOnlyList<RewardComponent> RewardComponents { get; set; } = [];
    /// <summary>[Rows, CompletionLength] the tokens the policy loss counts: the completion mask, less any rows a trainer excludes.</summary>
    public float[] LossMask { get; set; }
    /// <summary>[Rows, CompletionLength] advantage of each token.</summary>
    public float[] Advantages { get; set; } = [];
    /// <summary>[Rows, CompletionLength] the critic's targets (PPO), or null.</summary>
    public float[]? Returns { get; set; }

    private Rollout(IReadOnlyList<GeneratedSequence> samples, int samplesPerPrompt, int padId)
    {
        Samples = samples;
        Rows = samples.Count;
        SamplesPerPrompt = samplesPerPrompt;
        PromptLength = samples.Max(s => s.PromptIds.Length);
        CompletionLength = samples.Max(s => s.Tokens.Length);
        int time = PromptLength + CompletionLength;
        InputIds = new int[Rows * time];
        AttentionMask = new float[Rows * time];
        Array.Fill(InputIds, padId);
        Lengths = new int[Rows];
        Finished = new bool[Rows];
        CompletionMask = new float[Rows * CompletionLength];
        LogProbs = new float[Rows * CompletionLength];
        for (int r = 0; r < Rows; r++)
        {
            var s = samples[r];
            int promptStart = r * time + PromptLength - s.PromptIds.Length;
            s.PromptIds.CopyTo(InputIds, promptStart);
            s.Tokens.CopyTo(InputIds, r * time + PromptLength);
            AttentionMask.AsSpan(promptStart, s.PromptIds.Length + s.Tokens.Length).Fill(1);
            Lengths[r] = s.Tokens.Length;
            Finished[r] = s.FinishReason == FinishReason.Stop;
            CompletionMask.AsSpan(r * CompletionLength, s.Tokens.Length).Fill(1);
            s.LogProbs.CopyTo(LogProbs, r * CompletionLength);
        }
        LossMask = (float[])CompletionMask.Clone();
    }

    /// <summary>Lays out <paramref name="samples"/> (G adjacent samples per prompt, as <see cref="Generator"/> returns them).</summary>
    public static Rollout FromSamples(IReadOnlyList<GeneratedSequence> samples, int samplesPerPrompt, int padId)
    {
        if (samples.Count == 0 || samples.Count % samplesPerPrompt != 0)
            throw new ArgumentException($"rollout: {samples.Count} samples do not form groups of {samplesPerPrompt}.", nameof(samples));
        return new Rollout(samples, samplesPerPrompt, padId);
    }

    // The selected rows' ids and attention mask [rows, PromptLength + CompletionLength], as one teacher-forced batch.
    private (int[] Ids, float[] Mask, int Time) Inputs(int[] rows)
    {
        int time = PromptLength + CompletionLength;
        var ids = new int[rows.Length * time];
        var mask = new float[rows.Length * time];
        for (int i = 0; i < rows.Length; i++)
        {
            InputIds.AsSpan(rows[i] * time, time).CopyTo(ids.AsSpan(i * time));
            AttentionMask.AsSpan(rows[i] * time, time).CopyTo(mask.AsSpan(i * time));
        }
        return (ids, mask, time);
    }

    /// <summary>
    /// The final hidden states [rows, CompletionLength, hidden] at the positions whose outputs score each completion
    /// token, from one teacher-forced forward of the selected rows (position ids from the mask, so left padding
    /// numbers tokens as the KV cache did during sampling).
    /// </summary>
    private Tensor CompletionHidden(CausalLanguageModel model, int[] rows)
    {
        var (ids, mask, time) = Inputs(rows);
        // Only the positions before each completion token are computed past the last block's keys and values, and only
        // they go through the LM head: for a real vocabulary the prompt's logits would cost most of the step.
        return Ops.Slice(model.Hidden(ids, rows.Length, time, mask, lastPositions: CompletionLength + 1), 1, 0, CompletionLength);
    }

    /// <summary>
    /// log softmax(logits / T) of each completion token of the selected rows [rows·CompletionLength] (0 on padding),
    /// and the logits [rows·CompletionLength, vocab] they came from: the policy's forward in every loss.
    /// </summary>
    public (Tensor LogProbs, Tensor Logits) TokenLogProbs(CausalLanguageModel model, int[] rows, float temperature)
    {
        var logits = Ops.Reshape(Ops.Linear(CompletionHidden(model, rows), model.LmHeadWeight, null, Ops.WeightLayout.OutIn),
            rows.Length * CompletionLength, model.Config.VocabSize);
        int time = PromptLength + CompletionLength;
        var targets = new int[rows.Length * CompletionLength];
        for (int i = 0; i < rows.Length; i++)
            for (int t = 0; t < CompletionLength; t++)
                targets[i * CompletionLength + t] = t < Lengths[rows[i]] ? InputIds[rows[i] * time + PromptLength + t] : TokenizedSequence.IgnoreIndex;
        return (Ops.TokenLogProbs(logits, targets, temperature), logits);
    }

    /// <summary>A critic's value [rows·CompletionLength] before each completion token: its score head read at every position (TRL's value at context_length − 1 + t).</summary>
    public Tensor CriticValues(CausalLanguageModel critic, int[] rows)
    {
        var (ids, mask, time) = Inputs(rows);
        var values = critic.ScoresAllPositions(ids, rows.Length, time, mask, lastPositions: CompletionLength + 1);
        return Ops.Reshape(Ops.Slice(values, 1, 0, CompletionLength), rows.Length * CompletionLength);
    }

    /// <summary>Runs <paramref name="forward"/> ([rows·CompletionLength] per call) over every row in chunks, without gradients.</summary>
    public float[] Evaluate(Func<int[], Tensor> forward, int chunkRows)
    {
        var result = new float[Rows * CompletionLength];
        for (int start = 0; start < Rows; start += chunkRows)
        {
            int[] rows = [.. Enumerable.Range(start, Math.Min(chunkRows, Rows - start))];
            using var tape = new Tape(recordGradients: false);
            forward(rows).Span.CopyTo(result.AsSpan(start * CompletionLength));
        }
        return result;
    }

    /// <summary>The selected rows of a per-token array, in order.</summary>
    public float[] Gather(float[] perToken, int[] rows)
    {
        var result = new float[rows.Length * CompletionLength];
        for (int i = 0; i < rows.Length; i++) perToken.AsSpan(rows[i] * CompletionLength, CompletionLength).CopyTo(result.AsSpan(i * CompletionLength));
        return result;
    }

    /// <summary>The KL estimate at each completion token against the reference [Rows·CompletionLength], 0 on padding.</summary>
    public float[] TokenKl(KlEstimator estimator)
    {
        var reference = ReferenceLogProbs ?? throw new InvalidOperationException("rollout: KL needs the reference log-probs.");
        var kl = new float[LogProbs.Length];
        for (int i = 0; i < kl.Length; i++)
            if (CompletionMask[i] != 0) kl[i] = KlPenalty.Value(estimator, LogProbs[i], reference[i]);
        return kl;
    }

    /// <summary>Each row's sum of a per-token array [Rows].</summary>
    public float[] SequenceSums(float[] perToken)
    {
        var sums = new float[Rows];
        for (int r = 0; r < Rows; r++)
        {
            double sum = 0;
            for (int t = 0; t < CompletionLength; t++) sum += perToken[r * CompletionLength + t];
            sums[r] = (float)sum;
        }
        return sums;
    }

    /// <summary>A per-sequence value repeated on each of the sequence's tokens (0 on padding).</summary>
    public float[] PerToken(ReadOnlySpan<float> perSequence)
    {
        var result = new float[Rows * CompletionLength];
        for (int r = 0; r < Rows; r++) result.AsSpan(r * CompletionLength, Lengths[r]).Fill(perSequence[r]);
        return result;
    }
}
