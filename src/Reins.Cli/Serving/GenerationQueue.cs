using System.Threading.Channels;
using Reins.Models.Generation;
using Reins.Models.Transformers;

namespace Reins.Cli.Serving;

/// <summary>One request's prompt with its samples' tokens as they are produced.</summary>
internal sealed class GenerationJob(int[] prompt, SamplingOptions options, CancellationToken cancellation)
{
    public int[] Prompt { get; } = prompt;
    public SamplingOptions Options { get; } = options;
    public CancellationToken Cancellation { get; } = cancellation;
    public Channel<GeneratedToken> Tokens { get; } = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = true });
}

/// <summary>
/// The requests waiting for the model and the one thread that runs it. Requests that arrive while a batch runs wait
/// (up to the queue limit; beyond it the server answers 429) and start together as the next batch, grouped by their
/// sampling settings (one batch shares max_tokens, temperature, top_p, n and stop; each request keeps its own seed).
/// This is request-level batching: a request does not join a batch that is already decoding.
/// </summary>
internal sealed class GenerationQueue : IAsyncDisposable
{
    private readonly CausalLanguageModel model;
    private readonly Func<int[], string> decode;
    private readonly int maxBatch, queueLimit;
    private readonly Channel<GenerationJob> pending;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task worker;

    public GenerationQueue(CausalLanguageModel model, Func<int[], string> decode, int queueLimit, int maxBatch)
    {
        this.model = model;
        this.decode = decode;
        this.maxBatch = maxBatch;
        this.queueLimit = queueLimit;
        pending = Channel.CreateUnbounded<GenerationJob>(); // not SingleReader: that channel cannot count what waits
        worker = Task.Factory.StartNew(() => RunAsync(stopping.Token), stopping.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Queues the jobs of one request, all or none; false when the queue has no room for them.</summary>
    public bool TryEnqueue(IReadOnlyList<GenerationJob> jobs)
    {
        lock (pending)
        {
            if (pending.Reader.Count + jobs.Count > queueLimit) return false;
            foreach (var job in jobs)
                if (!pending.Writer.TryWrite(job)) return false;
            return true;
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        try
        {
            while (await pending.Reader.WaitToReadAsync(stop))
            {
                var batch = new List<GenerationJob>();
                // Under the enqueue lock, so a request's jobs are all in the batch or none: a request split across two
                // batches would get rows padded differently, and seeded requests would not repeat exactly.
                lock (pending)
                    while (batch.Count < maxBatch && pending.Reader.TryRead(out var job))
                    {
                        if (job.Cancellation.IsCancellationRequested) job.Tokens.Writer.TryComplete(new OperationCanceledException(job.Cancellation));
                        else batch.Add(job);
                    }
                foreach (var group in batch.GroupBy(j => Key(j.Options))) await RunGroupAsync(group.ToList(), stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        while (pending.Reader.TryRead(out var left)) left.Tokens.Writer.TryComplete(new OperationCanceledException("the server is shutting down"));
    }

    private async Task RunGroupAsync(List<GenerationJob> jobs, CancellationToken stop)
    {
        using var run = CancellationTokenSource.CreateLinkedTokenSource(stop);
        // A client that disconnects leaves its rows running with the others; the batch stops early only when all have gone.
        var registrations = jobs.Select(j => j.Cancellation.Register(() => { if (jobs.All(x => x.Cancellation.IsCancellationRequested)) run.Cancel(); })).ToList();
        try
        {
            var options = jobs[0].Options with { PromptSeeds = jobs.Select(j => j.Options.Seed).ToList() };
            await foreach (var token in Generator.StreamAsync(model, jobs.Select(j => j.Prompt).ToList(), options, decode, run.Token))
                jobs[token.PromptIndex].Tokens.Writer.TryWrite(token);
            foreach (var job in jobs) job.Tokens.Writer.TryComplete();
        }
        catch (Exception e)
        {
            foreach (var job in jobs) job.Tokens.Writer.TryComplete(e);
        }
        finally
        {
            foreach (var registration in registrations) registration.Dispose();
        }
    }

    private static string Key(SamplingOptions o) =>
        $"{o.MaxNewTokens}|{o.Temperature}|{o.TopP}|{o.NumReturnSequences}|{o.TopLogProbs}|{string.Join(',', o.StopTokenIds)}|{string.Join('\0', o.StopStrings)}";

    /// <summary>Stops the worker: the running batch ends at its next token, waiting requests are failed.</summary>
    public async ValueTask DisposeAsync()
    {
        stopping.Cancel();
        pending.Writer.TryComplete();
        await worker;
        stopping.Dispose();
    }
}
