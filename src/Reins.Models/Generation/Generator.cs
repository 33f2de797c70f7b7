using System.Runtime.CompilerServices;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Models.Generation;

/// <summary>
/// Batched sampling with a KV cache. Prompts of different lengths are left-padded into one prefill; each prompt's
/// n samples then copy its cached prefix; every step feeds one token per row. Finished rows keep their slot (fed a
/// masked pad) so the batch shape, and with it the numerics of the others, does not change under them.
/// </summary>
public static class Generator
{
    /// <summary>
    /// Generates for every prompt and returns its <see cref="SamplingOptions.NumReturnSequences"/> samples in prompt
    /// order. <paramref name="decode"/> (token ids → text) enables stop strings and fills <see cref="GeneratedSequence.Text"/>.
    /// Cancellation stops at the next token and returns what was produced, marked <see cref="FinishReason.Cancelled"/>.
    /// With <paramref name="mixture"/>, tokens are drawn from the geometric mixture of <paramref name="model"/> and the
    /// mixture's reference (Nash-MD's opponent), and the log-probs reported are the mixture's.
    /// </summary>
    public static IReadOnlyList<GeneratedSequence> Generate(CausalLanguageModel model, IReadOnlyList<int[]> prompts, SamplingOptions options,
        Func<int[], string>? decode = null, CancellationToken cancellation = default, GeometricMixture? mixture = null)
    {
        var run = new Run(model, prompts, options.Validate(), decode, mixture);
        foreach (var _ in run.Steps(cancellation)) { }
        return run.Results();
    }

    /// <summary>The same generation as <see cref="Generate"/>, yielding each token as soon as it is sampled.</summary>
    public static async IAsyncEnumerable<GeneratedToken> StreamAsync(CausalLanguageModel model, IReadOnlyList<int[]> prompts, SamplingOptions options,
        Func<int[], string>? decode = null, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var run = new Run(model, prompts, options.Validate(), decode, null);
        foreach (var step in run.Steps(cancellation))
        {
            foreach (var token in step) yield return token;
            await Task.Yield();
        }
    }

    /// <summary>Refuses prompts <paramref name="model"/> cannot continue under <paramref name="options"/>, naming the first at fault.</summary>
    internal static void Check(CausalLanguageModel model, IReadOnlyList<int[]> prompts, SamplingOptions options, Func<int[], string>? decode)
    {
        if (prompts.Count == 0) throw new ArgumentException("generate: no prompts.");
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new ArgumentException($"generate: prompt {i} is empty (start it with BOS if the model has one).");
            // The last new token is sampled but never fed back, so a sequence occupies prompt + max_new_tokens − 1 positions.
            if (prompts[i].Length + options.MaxNewTokens - 1 > model.Config.MaxPositions)
                throw new ArgumentException($"generate: prompt {i} has {prompts[i].Length} tokens; with max_new_tokens {options.MaxNewTokens} it exceeds the model's {model.Config.MaxPositions} positions.");
            foreach (int t in prompts[i])
                if ((uint)t >= (uint)model.Config.VocabSize) throw new ArgumentException($"generate: prompt {i} holds token {t}, outside the vocabulary of {model.Config.VocabSize}.");
        }
        if (options.StopStrings.Count > 0 && decode is null) throw new ArgumentException("generate: stop strings need a decoder (a tokenizer).");
    }

    private sealed class Run
    {
        private readonly CausalLanguageModel model;
        private readonly GeometricMixture? mixture;
        private readonly IReadOnlyList<int[]> prompts;
        private readonly SamplingOptions options;
        private readonly Func<int[], string>? decode;
        private readonly int rows, vocab;
        private readonly List<int>[] tokens;
        private readonly List<float>[] logProbs;
        private readonly FinishReason?[] finished;
        private readonly Rng[] rngs;
        private readonly bool[]? seen;
        private readonly TokenPicker picker;

        public Run(CausalLanguageModel model, IReadOnlyList<int[]> prompts, SamplingOptions options, Func<int[], string>? decode, GeometricMixture? mixture)
        {
            Check(model, prompts, options, decode);
            if (mixture is not null && (mixture.Reference.Config.VocabSize != model.Config.VocabSize || mixture.Reference.Config.MaxPositions < model.Config.MaxPositions))
                throw new ArgumentException($"generate: the mixture's reference has {mixture.Reference.Config.VocabSize} ids and {mixture.Reference.Config.MaxPositions} positions; the model {model.Config.VocabSize} and {model.Config.MaxPositions}.");
            this.mixture = mixture;
            this.model = model;
            this.prompts = prompts;
            this.options = options;
            this.decode = decode;
            vocab = model.Config.VocabSize;
            rows = prompts.Count * options.NumReturnSequences;
            tokens = new List<int>[rows];
            logProbs = new List<float>[rows];
            finished = new FinishReason?[rows];
            rngs = new Rng[rows];
            for (int r = 0; r < rows; r++)
            {
                int p = r / options.NumReturnSequences, s = r % options.NumReturnSequences;
                tokens[r] = new List<int>(options.MaxNewTokens);
                logProbs[r] = new List<float>(options.MaxNewTokens);
                rngs[r] = TokenPicker.RowRng(options, p, s);
            }
            if (options.RepetitionPenalty != 1f)
            {
                seen = new bool[rows * vocab];
                for (int r = 0; r < rows; r++)
                    foreach (int t in prompts[r / options.NumReturnSequences]) seen[r * vocab + t] = true;
            }
            picker = new TokenPicker(vocab);
        }

        public IEnumerable<List<GeneratedToken>> Steps(CancellationToken cancellation)
        {
            int n = options.NumReturnSequences;
            var logits = new float[rows * vocab];
            KvCache cache;
            KvCache? referenceCache = null;
            using (var tape = new Tape(recordGradients: false))
            {
                // Prefill each prompt once, left-padded; n > 1 samples copy its cache rows.
                var input = ModelInput.LeftPadded(prompts);
                int capacity = input.Time + options.MaxNewTokens;
                cache = Prefill(model, input, capacity, logits);
                if (mixture is not null)
                {
                    var referenceLogits = new float[rows * vocab];
                    referenceCache = Prefill(mixture.Reference, input, capacity, referenceLogits);
                    mixture.Mix(logits, referenceLogits, vocab);
                }
            }
            using var _ = cache;
            using var __ = referenceCache;

            var next = new int[rows];
            var nextMask = new float[rows];
            for (int step = 0; ; step++)
            {
                var emitted = new List<GeneratedToken>();
                for (int r = 0; r < rows; r++)
                {
                    if (finished[r] is not null) continue;
                    var (token, logProb) = picker.Pick(logits.AsSpan(r * vocab, vocab), options, rngs[r], seen is null ? [] : seen.AsSpan(r * vocab, vocab));
                    var top = options.TopLogProbs > 0 ? picker.TopLogProbs(options.TopLogProbs) : [];
                    tokens[r].Add(token);
                    logProbs[r].Add(logProb);
                    if (seen is not null) seen[r * vocab + token] = true;
                    if (options.StopTokenIds.Contains(token) || TokenPicker.HitsStopString(tokens[r], options, decode)) finished[r] = FinishReason.Stop;
                    else if (tokens[r].Count >= options.MaxNewTokens) finished[r] = FinishReason.Length;
                    emitted.Add(new GeneratedToken(r / n, r % n, token, logProb, finished[r]) { TopLogProbs = top });
                }
                bool cancelled = cancellation.IsCancellationRequested;
                if (cancelled)
                    for (int r = 0; r < rows; r++)
                        if (finished[r] is null)
                        {
                            finished[r] = FinishReason.Cancelled;
                            emitted.Add(new GeneratedToken(r / n, r % n, -1, 0, FinishReason.Cancelled));
                        }
                yield return emitted;
                if (cancelled || finished.All(f => f is not null)) yield break;

                for (int r = 0; r < rows; r++)
                {
                    bool live = finished[r] is null;
                    next[r] = live ? tokens[r][^1] : 0;
                    nextMask[r] = live ? 1 : 0;
                }
                using var tape = new Tape(recordGradients: false);
                model.NextTokenLogits(ModelInput.Padded(next, rows, 1, nextMask), cache).Span.CopyTo(logits);
                if (mixture is not null) mixture.Mix(logits, mixture.Reference.NextTokenLogits(ModelInput.Padded(next, rows, 1, nextMask), referenceCache!).ToArray(), vocab);
            }
        }

        // Each prompt's cache, filled once left-padded; n > 1 samples copy its rows. Writes every row's first logits.
        private KvCache Prefill(CausalLanguageModel network, ModelInput input, int capacity, float[] logits)
        {
            int n = options.NumReturnSequences;
            var prefill = new KvCache(network.Config, prompts.Count, n == 1 ? capacity : input.Time, network.Bf16KvCache);
            var first = network.NextTokenLogits(input, prefill).Span;
            for (int r = 0; r < rows; r++) first.Slice(r / n * vocab, vocab).CopyTo(logits.AsSpan(r * vocab));
            if (n == 1) return prefill;
            var select = new int[rows];
            for (int r = 0; r < rows; r++) select[r] = r / n;
            var selected = prefill.Select(select, capacity);
            prefill.Dispose();
            return selected;
        }

        public IReadOnlyList<GeneratedSequence> Results()
        {
            int n = options.NumReturnSequences;
            var results = new GeneratedSequence[rows];
            for (int r = 0; r < rows; r++)
            {
                int[] response = [.. tokens[r]];
                results[r] = new GeneratedSequence(r / n, r % n, prompts[r / n], response, [.. logProbs[r]], finished[r] ?? FinishReason.Length)
                {
                    Text = decode?.Invoke(response),
                };
            }
            return results;
        }
    }
}
