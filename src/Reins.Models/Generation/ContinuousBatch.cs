using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Models.Generation;

/// <summary>
/// Continuous batching (Orca's iteration-level scheduling, as vLLM serves): one running batch that requests join at its
/// next step and leave as each of their rows finishes, so a short request never waits behind a long one and every live
/// row is decoded in the same forward. A step prefills the rows that joined (left-padded among themselves; a prompt's
/// n samples share its prefill), gathers them with the rows still live into one cache (<see cref="KvCache.Gather"/>,
/// which also drops the finished rows and padding nobody needs), samples each row's token with its own request's
/// settings and seed (as <see cref="Generator"/> seeds it), and feeds the tokens back in one forward. A row's draws use
/// its own seed whatever shares the batch; its logits, and so in rare near-ties its tokens, differ from a run alone only
/// in the last bits, since other rows change the padding and with it the order of floating-point sums. One thread
/// drives it.
/// </summary>
public sealed class ContinuousBatch(CausalLanguageModel model, Func<int[], string>? decode = null) : IDisposable
{
    private sealed class Row(int[] prompt, SamplingOptions options, Rng rng, int promptIndex, int sampleIndex, Action<GeneratedToken> emit, CancellationToken cancellation)
    {
        public int[] Prompt { get; } = prompt;
        public SamplingOptions Options { get; } = options;
        public Rng Rng { get; } = rng;
        public int PromptIndex { get; } = promptIndex;
        public int SampleIndex { get; } = sampleIndex;
        public Action<GeneratedToken> Emit { get; } = emit;
        public CancellationToken Cancellation { get; } = cancellation;
        public List<int> Tokens { get; } = new(options.MaxNewTokens);
        public bool[]? Seen { get; init; }
        public FinishReason? Finished { get; set; }
        public int Remaining => Options.MaxNewTokens - Tokens.Count;
    }

    private readonly int vocab = model.Config.VocabSize;
    private readonly TokenPicker picker = new(model.Config.VocabSize);
    private readonly List<Row> joining = [];
    private List<Row> live = [];
    private KvCache? cache;
    // The live rows' logits for their next token, row after row, in the cache's order.
    private float[] logits = [];

    /// <summary>Rows decoding or waiting to join.</summary>
    public int Rows => live.Count + joining.Count;

    /// <summary>
    /// Queues <paramref name="prompts"/>, each sampled options.NumReturnSequences times, to join at the next
    /// <see cref="Step"/>; every token goes to <paramref name="emit"/> as it is sampled (a row's last carries its finish
    /// reason). A row whose <paramref name="cancellation"/> fires ends at its next step, <see cref="FinishReason.Cancelled"/>.
    /// Throws, adding nothing, for prompts the model cannot continue.
    /// </summary>
    public void Add(IReadOnlyList<int[]> prompts, SamplingOptions options, Action<GeneratedToken> emit, CancellationToken cancellation = default)
    {
        options.Validate();
        Generator.Check(model, prompts, options, decode);
        for (int p = 0; p < prompts.Count; p++)
            for (int s = 0; s < options.NumReturnSequences; s++)
            {
                bool[]? seen = null;
                if (options.RepetitionPenalty != 1f)
                {
                    seen = new bool[vocab];
                    foreach (int t in prompts[p]) seen[t] = true;
                }
                joining.Add(new Row(prompts[p], options, TokenPicker.RowRng(options, p, s), p, s, emit, cancellation) { Seen = seen });
            }
    }

    /// <summary>
    /// One iteration: the rows that joined are admitted, every live row samples its next token, finished rows leave,
    /// and the rest are fed their tokens. Does nothing without rows.
    /// </summary>
    public void Step()
    {
        Admit();
        if (live.Count == 0) return;
        foreach (var (row, i) in live.Select((row, i) => (row, i)))
        {
            if (row.Cancellation.IsCancellationRequested)
            {
                Finish(row, FinishReason.Cancelled);
                continue;
            }
            var (token, logProb) = picker.Pick(logits.AsSpan(i * vocab, vocab), row.Options, row.Rng, row.Seen);
            var top = row.Options.TopLogProbs > 0 ? picker.TopLogProbs(row.Options.TopLogProbs) : [];
            row.Tokens.Add(token);
            if (row.Seen is not null) row.Seen[token] = true;
            if (row.Options.StopTokenIds.Contains(token) || TokenPicker.HitsStopString(row.Tokens, row.Options, decode)) row.Finished = FinishReason.Stop;
            else if (row.Remaining == 0) row.Finished = FinishReason.Length;
            row.Emit(new GeneratedToken(row.PromptIndex, row.SampleIndex, token, logProb, row.Finished) { TopLogProbs = top });
        }
        Rebuild(live.Where(r => r.Finished is null).ToList(), []);
        Feed();
    }

    /// <summary>Ends every row, decoding or waiting, as <see cref="FinishReason.Cancelled"/> (a server shutting down).</summary>
    public void Cancel()
    {
        foreach (var row in live.Concat(joining)) Finish(row, FinishReason.Cancelled);
        joining.Clear();
        Rebuild([], []);
    }

    private static void Finish(Row row, FinishReason reason)
    {
        row.Finished = reason;
        row.Emit(new GeneratedToken(row.PromptIndex, row.SampleIndex, -1, 0, reason));
    }

    // The joining rows' prompts prefilled once each (left-padded together), then gathered in behind the live rows.
    private void Admit()
    {
        var rows = joining.Where(r => !r.Cancellation.IsCancellationRequested).ToList();
        foreach (var row in joining.Where(r => r.Cancellation.IsCancellationRequested)) Finish(row, FinishReason.Cancelled);
        joining.Clear();
        if (rows.Count == 0) return;
        var prompts = rows.Select(r => r.Prompt).Distinct().ToList();
        var input = ModelInput.LeftPadded(prompts);
        using var prefill = new KvCache(model.Config, prompts.Count, input.Time, model.Bf16KvCache);
        float[] first;
        using (new Tape(recordGradients: false))
            first = model.NextTokenLogits(input, prefill).ToArray();
        Rebuild(live, [.. rows.Select(r => (r, prefill, prompts.IndexOf(r.Prompt), first))]);
    }

    // The cache and logits of exactly `keep` (live rows, in order) then `add` (joining rows with the cache row and logits of their prefill).
    private void Rebuild(List<Row> keep, List<(Row Row, KvCache Cache, int At, float[] Logits)> add)
    {
        if (keep.Count == live.Count && add.Count == 0) return;
        var all = keep.Concat(add.Select(a => a.Row)).ToList();
        KvCache? next = null;
        var nextLogits = new float[all.Count * vocab];
        if (all.Count > 0)
        {
            var index = live.Select((row, i) => (row, i)).ToDictionary(x => x.row, x => x.i);
            var sources = keep.Select(r => (cache!, index[r])).Concat(add.Select(a => (a.Cache, a.At))).ToList();
            next = KvCache.Gather(sources, all.Max(r => r.Remaining));
            for (int i = 0; i < keep.Count; i++) logits.AsSpan(index[keep[i]] * vocab, vocab).CopyTo(nextLogits.AsSpan(i * vocab));
            for (int j = 0; j < add.Count; j++) add[j].Logits.AsSpan(add[j].At * vocab, vocab).CopyTo(nextLogits.AsSpan((keep.Count + j) * vocab));
        }
        cache?.Dispose();
        (cache, live, logits) = (next, all, nextLogits);
    }

    // Every live row's last token through the model: the logits of its next one.
    private void Feed()
    {
        if (live.Count == 0) return;
        var next = live.Select(r => r.Tokens[^1]).ToArray();
        using var tape = new Tape(recordGradients: false);
        model.NextTokenLogits(ModelInput.Padded(next, live.Count, 1, [.. Enumerable.Repeat(1f, live.Count)]), cache!).Span.CopyTo(logits);
    }

    /// <summary>Gives the cache back to the buffer pool.</summary>
    public void Dispose()
    {
        cache?.Dispose();
        cache = null;
    }
}
