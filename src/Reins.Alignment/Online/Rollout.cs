using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.Online;

/// <summary>
/// The first stage of a step: one batch of sampled completions in the layout every online method consumes. Row r holds
/// prompt r / G (G samples per prompt, adjacent), left-padded to <see cref="PromptLength"/>, then its completion
/// right-padded to <see cref="CompletionLength"/>. Per-token arrays are [Rows, CompletionLength]: entry t of a row
/// belongs to its t-th generated token, which the model scores with its output at position PromptLength − 1 + t. The
/// later stages (<see cref="ScoredRollout"/>, <see cref="EvaluatedRollout"/>, a method's batch) add to it without
/// changing it.
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
    /// <summary>[Rows, CompletionLength] log softmax(logits / T) of each sampled token under the sampling policy (π_old), T the method's log-prob temperature.</summary>
    public float[] LogProbs { get; }
    /// <summary>The samples as the generator returned them (prompt ids, tokens, text, finish reason).</summary>
    public IReadOnlyList<GeneratedSequence> Samples { get; }

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
    }

    private Rollout(Rollout layout, float[] logProbs)
    {
        (Rows, PromptLength, CompletionLength, SamplesPerPrompt) = (layout.Rows, layout.PromptLength, layout.CompletionLength, layout.SamplesPerPrompt);
        (InputIds, AttentionMask, Lengths, Finished, CompletionMask, Samples) = (layout.InputIds, layout.AttentionMask, layout.Lengths, layout.Finished, layout.CompletionMask, layout.Samples);
        LogProbs = logProbs;
    }

    /// <summary>The same samples with their log-probs taken again (at another temperature than the generator's).</summary>
    public Rollout WithLogProbs(float[] logProbs) =>
        logProbs.Length == LogProbs.Length ? new Rollout(this, logProbs) : throw new ArgumentException($"rollout: {logProbs.Length} log-probs for {LogProbs.Length} token slots.", nameof(logProbs));

    /// <summary>Lays out <paramref name="samples"/> (G adjacent samples per prompt, as <see cref="Generator"/> returns them).</summary>
    public static Rollout FromSamples(IReadOnlyList<GeneratedSequence> samples, int samplesPerPrompt, int padId)
    {
        if (samples.Count == 0 || samples.Count % samplesPerPrompt != 0)
            throw new ArgumentException($"rollout: {samples.Count} samples do not form groups of {samplesPerPrompt}.", nameof(samples));
        return new Rollout(samples, samplesPerPrompt, padId);
    }

    /// <summary>A per-token mask [Rows·CompletionLength]: the completion mask, with the rows <paramref name="keep"/> refuses cleared.</summary>
    public float[] MaskWhere(Func<int, bool> keep)
    {
        var mask = (float[])CompletionMask.Clone();
        for (int r = 0; r < Rows; r++)
            if (!keep(r)) mask.AsSpan(r * CompletionLength, CompletionLength).Clear();
        return mask;
    }

    /// <summary>
    /// The selected rows [rows, PromptLength + CompletionLength] as one teacher-forced batch, computed past the last
    /// block's keys and values only at the positions that score completion tokens (and the one after the last): for a
    /// real vocabulary the prompt's logits would cost most of the step. Position ids come from the mask, so left padding
    /// numbers tokens as the KV cache did during sampling.
    /// </summary>
    private ModelInput Input(int[] rows)
    {
        int time = PromptLength + CompletionLength;
        var ids = new int[rows.Length * time];
        var mask = new float[rows.Length * time];
        for (int i = 0; i < rows.Length; i++)
        {
            InputIds.AsSpan(rows[i] * time, time).CopyTo(ids.AsSpan(i * time));
            AttentionMask.AsSpan(rows[i] * time, time).CopyTo(mask.AsSpan(i * time));
        }
        return ModelInput.Padded(ids, rows.Length, time, mask) with { KeepLast = CompletionLength + 1 };
    }

    /// <summary>
    /// log softmax(logits / T) of each completion token of the selected rows [rows·CompletionLength] (0 on padding),
    /// and the logits [rows·CompletionLength, vocab] they came from: the policy's forward in every loss.
    /// </summary>
    public (Tensor LogProbs, Tensor Logits) TokenLogProbs(CausalLanguageModel model, int[] rows, float temperature)
    {
        // The hidden state before each completion token, through the LM head.
        var hidden = Ops.Slice(model.Hidden(Input(rows)), 1, 0, CompletionLength);
        var logits = Ops.Reshape(model.LmHead(hidden), rows.Length * CompletionLength, model.Config.VocabSize);
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
        var values = critic.ScoresAllPositions(Input(rows));
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

    /// <summary>A per-sequence value placed on each sequence's last token (0 elsewhere): a score as a token reward.</summary>
    public float[] AtLastToken(ReadOnlySpan<float> perSequence)
    {
        var result = new float[Rows * CompletionLength];
        for (int r = 0; r < Rows; r++) result[r * CompletionLength + Lengths[r] - 1] = perSequence[r];
        return result;
    }
}
