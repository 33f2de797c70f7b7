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
/// The requests waiting for the model and the one thread that runs it: a <see cref="ContinuousBatch"/> that a waiting
/// request joins at its next step, whatever its sampling settings, while fewer than max_batch prompts are decoding (a
/// request's prompts join together). Requests beyond the queue limit are refused (the server answers 429).
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
        var batch = new ContinuousBatch(model, decode);
        // The jobs in the batch, each with its rows not yet finished.
        var running = new Dictionary<GenerationJob, int>();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (running.Count == 0 && !await pending.Reader.WaitToReadAsync(stop)) break;
                Admit(batch, running);
                try { batch.Step(); }
                catch (Exception e)
                {
                    // A failed step fails what it was decoding; the next requests start on a fresh batch.
                    foreach (var job in running.Keys) job.Tokens.Writer.TryComplete(e);
                    running.Clear();
                    batch.Dispose();
                    batch = new ContinuousBatch(model, decode);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        batch.Cancel();
        batch.Dispose();
        while (pending.Reader.TryRead(out var left)) left.Tokens.Writer.TryComplete(new OperationCanceledException("the server is shutting down"));
    }

    // Waiting jobs join while fewer than max_batch prompts decode; under the enqueue lock, so a request's jobs join in
    // one step (they are queued together) unless the batch fills between them.
    private void Admit(ContinuousBatch batch, Dictionary<GenerationJob, int> running)
    {
        lock (pending)
            while (running.Count < maxBatch && pending.Reader.TryRead(out var job))
            {
                if (job.Cancellation.IsCancellationRequested)
                {
                    job.Tokens.Writer.TryComplete(new OperationCanceledException(job.Cancellation));
                    continue;
                }
                try
                {
                    batch.Add([job.Prompt], job.Options with { PromptSeeds = [job.Options.Seed] }, token =>
                    {
                        job.Tokens.Writer.TryWrite(token);
                        if (token.FinishReason is not null && --running[job] == 0)
                        {
                            running.Remove(job);
                            job.Tokens.Writer.TryComplete();
                        }
                    }, job.Cancellation);
                    running[job] = job.Options.NumReturnSequences;
                }
                catch (ArgumentException e) { job.Tokens.Writer.TryComplete(e); }
            }
    }

    /// <summary>Stops the worker: the running batch ends at its next token, waiting requests are failed.</summary>
    public async ValueTask DisposeAsync()
    {
        stopping.Cancel();
        pending.Writer.TryComplete();
        await worker;
        stopping.Dispose();
    }
}
