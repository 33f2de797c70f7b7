using System.Numerics.Tensors;
using Reins.Tensors;

namespace Reins.Models.Generation;

/// <summary>
/// One row's next token from its logits, as HF's sampling does it: repetition penalty, temperature, then top-k, top-p
/// and min-p truncation and one seeded draw (or the argmax at temperature 0); the log-prob reported is
/// log_softmax(logits / T) at the token, before any penalty or truncation. Holds scratch buffers of one vocabulary, so
/// a batch shares one picker and picks its rows in turn.
/// </summary>
internal sealed class TokenPicker(int vocab)
{
    private readonly float[] scaled = new float[vocab], work = new float[vocab];
    private readonly int[] order = new int[vocab];
    private float lastLogZ;

    /// <summary>
    /// Samples from <paramref name="logits"/> with <paramref name="options"/> and <paramref name="rng"/>; <paramref name="seen"/>
    /// (empty without a repetition penalty) marks the tokens the penalty applies to.
    /// </summary>
    public (int Token, float LogProb) Pick(ReadOnlySpan<float> logits, SamplingOptions options, Rng rng, ReadOnlySpan<bool> seen)
    {
        float temperature = options.Temperature == 0 ? 1f : options.Temperature;
        TensorPrimitives.Multiply(logits, 1f / temperature, scaled);
        float max = TensorPrimitives.Max(scaled);
        TensorPrimitives.Subtract(scaled, max, work);
        TensorPrimitives.Exp(work, work);
        float logZ = max + MathF.Log(TensorPrimitives.Sum(work));

        // The sampling distribution: penalised, tempered, then truncated; `work` holds its logits.
        logits.CopyTo(work);
        if (!seen.IsEmpty)
            for (int t = 0; t < vocab; t++)
                if (seen[t]) work[t] = work[t] > 0 ? work[t] / options.RepetitionPenalty : work[t] * options.RepetitionPenalty;
        int token;
        if (options.Temperature == 0) token = TensorPrimitives.IndexOfMax(work);
        else
        {
            TensorPrimitives.Multiply(work, 1f / options.Temperature, work);
            token = SampleFiltered(options, rng);
        }
        lastLogZ = logZ;
        return (token, scaled[token] - logZ);
    }

    /// <summary>The <paramref name="k"/> best of log_softmax(logits / T) of the last <see cref="Pick"/>, best first, ties by id.</summary>
    public List<(int Token, float LogProb)> TopLogProbs(int k)
    {
        float logZ = lastLogZ;
        var best = new List<(int Token, float LogProb)>(k + 1);
        for (int t = 0; t < vocab; t++)
        {
            float lp = scaled[t] - logZ;
            if (best.Count == k && lp <= best[^1].LogProb) continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].LogProb < lp) at--;
            best.Insert(at, (t, lp));
            if (best.Count > k) best.RemoveAt(best.Count - 1);
        }
        return best;
    }

    // Top-k, then top-p, then min-p on the probabilities of `work` (HF's warper order), then one draw.
    private int SampleFiltered(SamplingOptions options, Rng rng)
    {
        float max = TensorPrimitives.Max(work);
        TensorPrimitives.Subtract(work, max, work);
        TensorPrimitives.Exp(work, work);
        TensorPrimitives.Multiply(work, 1f / TensorPrimitives.Sum(work), work);
        int kept = vocab;
        bool truncate = options.TopK > 0 && options.TopK < vocab || options.TopP < 1f || options.MinP > 0f;
        if (truncate)
        {
            for (int i = 0; i < vocab; i++) order[i] = i;
            var probs = work;
            // Descending probability; equal probabilities keep the lower id first, so draws are reproducible.
            Array.Sort(order, (a, b) => probs[b].CompareTo(probs[a]) is var c && c != 0 ? c : a.CompareTo(b));
            if (options.TopK > 0) kept = Math.Min(kept, options.TopK);
            if (options.TopP < 1f)
            {
                double cumulative = 0;
                for (int i = 0; i < kept; i++)
                {
                    cumulative += work[order[i]];
                    if (cumulative >= options.TopP) { kept = i + 1; break; }
                }
            }
            if (options.MinP > 0f)
            {
                float floor = options.MinP * work[order[0]];
                int i = 1;
                while (i < kept && work[order[i]] >= floor) i++;
                kept = i;
            }
            double mass = 0;
            for (int i = 0; i < kept; i++) mass += work[order[i]];
            double u = rng.NextDouble() * mass;
            for (int i = 0; i < kept; i++)
            {
                u -= work[order[i]];
                if (u < 0) return order[i];
            }
            return order[kept - 1];
        }
        double v = rng.NextDouble(), acc = 0;
        for (int t = 0; t < vocab; t++)
        {
            acc += work[t];
            if (v < acc) return t;
        }
        return TensorPrimitives.IndexOfMax(work);
    }

    /// <summary>Whether <paramref name="tokens"/>, decoded, contain one of the options' stop strings.</summary>
    public static bool HitsStopString(List<int> tokens, SamplingOptions options, Func<int[], string>? decode)
    {
        if (options.StopStrings.Count == 0) return false;
        string text = decode!([.. tokens]);
        foreach (var s in options.StopStrings)
            if (text.Contains(s, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>The seed of sample <paramref name="sample"/> of prompt <paramref name="prompt"/>: its own seed if the options give one per prompt.</summary>
    public static Rng RowRng(SamplingOptions options, int prompt, int sample) => new(options.PromptSeed(prompt) ^ (0xBF58476D1CE4E5B9UL * (ulong)(sample + 1)));
}
