using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Reins.Models.Chat;
using Reins.Models.Chat.Jinja;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;

namespace Reins.Cli.Serving;

/// <summary>What `reins serve` serves and how.</summary>
internal sealed record ServeSettings(string ModelDirectory)
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 8000;
    /// <summary>The id clients name in "model" (default: the checkpoint directory's name).</summary>
    public string? ServedModelName { get; init; }
    /// <summary>When set, every request must carry "Authorization: Bearer" with it.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Prompts waiting for the model at most; beyond it requests get 429.</summary>
    public int QueueLimit { get; init; } = 64;
    /// <summary>Prompts decoded together at most.</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>max_tokens when a request does not say (bounded by the context left).</summary>
    public int DefaultMaxTokens { get; init; } = 256;
    /// <summary>Request bodies larger than this get 413.</summary>
    public long MaxRequestBytes { get; init; } = 4 << 20;
}

/// <summary>
/// An OpenAI-compatible server for a Reins or Hugging Face checkpoint (`reins serve`): GET /v1/models, POST
/// /v1/chat/completions with the checkpoint's chat template, POST /v1/completions, streaming as server-sent events,
/// log-probs with top alternatives. Every error is OpenAI's error body with the matching status.
/// </summary>
internal sealed class OpenAiServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly GenerationQueue queue;
    private readonly CausalLanguageModel model;
    private readonly Tokenizer tokenizer;
    private readonly ChatFormat chat;
    private readonly ServeSettings settings;
    private readonly string modelName;
    private readonly int[] stopIds;
    private readonly long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private OpenAiServer(ServeSettings settings)
    {
        this.settings = settings;
        (model, tokenizer) = HfCheckpoint.LoadWithTokenizer(settings.ModelDirectory);
        chat = ChatFormat.For(tokenizer);
        modelName = settings.ServedModelName ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(settings.ModelDirectory)));
        stopIds = Commands.GenerateCommand.StopTokenIds(tokenizer, model);
        queue = new GenerationQueue(model, ids => tokenizer.Decode(ids, skipSpecialTokens: true), settings.QueueLimit, settings.MaxBatch);

        app = ServerHost.CreateApp(settings);
        app.MapGet("/v1/models", Models);
        app.MapPost("/v1/chat/completions", ChatCompletions);
        app.MapPost("/v1/completions", Completions);
    }

    /// <summary>The address the server listens on (the real port when 0 was asked for).</summary>
    public Uri Address => ServerHost.Address(app);

    /// <summary>The id the server answers to in "model".</summary>
    public string ModelName => modelName;

    /// <summary>Loads the checkpoint and starts listening.</summary>
    public static async Task<OpenAiServer> StartAsync(ServeSettings settings, CancellationToken cancellation = default)
    {
        var server = new OpenAiServer(settings);
        await server.app.StartAsync(cancellation);
        return server;
    }

    /// <summary>Stops accepting requests, lets the ones in flight finish (up to 30 s), then stops the model.</summary>
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await queue.DisposeAsync();
        await app.DisposeAsync();
    }

    private async Task Models(HttpContext context)
    {
        await ServerHost.WriteJsonAsync(context, w =>
        {
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            w.WriteStartObject();
            w.WriteString("id", modelName);
            w.WriteString("object", "model");
            w.WriteNumber("created", created);
            w.WriteString("owned_by", "reins");
            w.WriteNumber("max_model_len", model.Config.MaxPositions);
            w.WriteEndObject();
            w.WriteEndArray();
        });
    }

    private async Task ChatCompletions(HttpContext context)
    {
        using var body = await ServerHost.ReadBodyAsync(context);
        var request = OpenAiRequests.ReadChat(body.RootElement);
        CheckModel(request.Sampling.Model);
        int[] prompt;
        try { prompt = chat.Encode(tokenizer, request.Messages, addGenerationPrompt: true).Ids; }
        catch (Exception e) when (e is JinjaException or ArgumentException)
        {
            throw new OpenAiError(400, $"The model's chat template refuses these messages: {e.Message}", "messages", "invalid_messages");
        }
        var jobs = Enqueue([prompt], request.Sampling, context.RequestAborted);
        string id = $"chatcmpl-{RandomNumberGenerator.GetHexString(24, lowercase: true)}";
        if (request.Sampling.Stream) await StreamChatAsync(context, id, jobs[0], request.Sampling);
        else await RespondChatAsync(context, id, jobs[0], request.Sampling);
    }

    private async Task Completions(HttpContext context)
    {
        using var body = await ServerHost.ReadBodyAsync(context);
        var request = OpenAiRequests.ReadCompletion(body.RootElement);
        CheckModel(request.Sampling.Model);
        var prompts = request.Prompts.Select(p => tokenizer.Encode(p, addSpecialTokens: true) is { Length: > 0 } ids ? ids
            : tokenizer.BosId is { } bos ? [bos] : throw OpenAiError.Invalid("prompt", "'prompt' encodes to no tokens and the model has no BOS token.")).ToList();
        var jobs = Enqueue(prompts, request.Sampling, context.RequestAborted);
        string id = $"cmpl-{RandomNumberGenerator.GetHexString(24, lowercase: true)}";
        if (request.Sampling.Stream) await StreamCompletionAsync(context, id, jobs, request.Sampling);
        else await RespondCompletionAsync(context, id, jobs, request, prompts);
    }

    private void CheckModel(string name)
    {
        if (name != modelName) throw new OpenAiError(404, $"The model '{name}' does not exist; this server serves '{modelName}'.", "model", "model_not_found");
    }

    private List<GenerationJob> Enqueue(IReadOnlyList<int[]> prompts, SamplingRequest sampling, CancellationToken aborted)
    {
        int context = model.Config.MaxPositions;
        int longest = prompts.Max(p => p.Length);
        if (longest >= context)
            throw new OpenAiError(413, $"The prompt is {longest} tokens; this model's context is {context} tokens.", "messages", "context_length_exceeded");
        // The last new token is never fed back, so a sequence may reach context + 1 tokens.
        int room = context - longest + 1;
        int maxTokens = sampling.MaxTokens ?? Math.Min(room, settings.DefaultMaxTokens);
        if (maxTokens > room)
            throw OpenAiError.Invalid("max_tokens", $"This model's context is {context} tokens: the prompt takes {longest}, so max_tokens can be at most {room}, not {maxTokens}.");
        ulong seed = sampling.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        var jobs = prompts.Select((p, i) => new GenerationJob(p, new SamplingOptions
        {
            MaxNewTokens = maxTokens, Temperature = sampling.Temperature, TopP = sampling.TopP, NumReturnSequences = sampling.N,
            StopTokenIds = stopIds, StopStrings = sampling.Stop, TopLogProbs = sampling.LogProbs ?? 0, Seed = seed + (ulong)i,
        }.Validate(), aborted)).ToList();
        if (!queue.TryEnqueue(jobs))
            throw new OpenAiError(429, $"The server is busy: {settings.QueueLimit} prompts are already waiting. Retry later.", code: "rate_limit_exceeded", type: "rate_limit_error");
        return jobs;
    }

    // One sample's tokens as they arrive, and its text with any stop string and what follows it cut off (as OpenAI does).
    // The final text is the whole response decoded (what the generator's stop check saw); while streaming, the
    // incremental decoder's text, which holds back the bytes of a character not yet complete.
    private sealed class Choice(Tokenizer tokenizer, IReadOnlyList<string> stop)
    {
        private readonly StreamingDecoder decoder = tokenizer.CreateStreamingDecoder(skipSpecialTokens: true);
        private readonly StringBuilder streamed = new();
        public List<GeneratedToken> Tokens { get; } = [];
        public FinishReason? Finish { get; private set; }
        public int Sent { get; set; }

        public void Add(GeneratedToken token)
        {
            if (token.Token >= 0)
            {
                Tokens.Add(token);
                streamed.Append(decoder.Push(token.Token));
            }
            Finish = token.FinishReason ?? Finish;
        }

        public string Text => Cut(tokenizer.Decode(Tokens.Select(t => t.Token).ToArray(), skipSpecialTokens: true));

        // Text that can be sent now: a stop string could still be forming in the last few characters.
        public string Ready
        {
            get
            {
                if (Finish is not null) return Text;
                string s = Cut(streamed.ToString());
                return s[..Math.Max(0, s.Length - (stop.Count == 0 ? 0 : stop.Max(x => x.Length) - 1))];
            }
        }

        /// <summary>What to send next, and marks it sent.</summary>
        public string TakeDelta()
        {
            string ready = Ready;
            string delta = ready.Length > Sent ? ready[Sent..] : "";
            Sent = Math.Max(Sent, ready.Length);
            return delta;
        }

        public string FinishText => Finish == FinishReason.Length ? "length" : "stop";

        private string Cut(string s) => s[..stop.Select(x => s.IndexOf(x, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(s.Length).Min()];
    }

    private async Task<List<Choice>> CollectAsync(GenerationJob job, int n, IReadOnlyList<string> stop, CancellationToken aborted)
    {
        var choices = Enumerable.Range(0, n).Select(_ => new Choice(tokenizer, stop)).ToList();
        await foreach (var token in job.Tokens.Reader.ReadAllAsync(aborted)) choices[token.SampleIndex].Add(token);
        return choices;
    }

    private async Task RespondChatAsync(HttpContext context, string id, GenerationJob job, SamplingRequest sampling)
    {
        var choices = await CollectAsync(job, sampling.N, sampling.Stop, context.RequestAborted);
        await ServerHost.WriteJsonAsync(context, w =>
        {
            Header(w, id, "chat.completion");
            w.WriteStartArray("choices");
            for (int i = 0; i < choices.Count; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("index", i);
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                w.WriteString("content", choices[i].Text);
                w.WriteNull("refusal");
                w.WriteEndObject();
                if (sampling.LogProbs is { } top) ChatLogProbs(w, choices[i].Tokens, top);
                else w.WriteNull("logprobs");
                w.WriteString("finish_reason", choices[i].FinishText);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Usage(w, job.Prompt.Length, choices.Sum(c => c.Tokens.Count));
        });
    }

    private async Task StreamChatAsync(HttpContext context, string id, GenerationJob job, SamplingRequest sampling)
    {
        var choices = Enumerable.Range(0, sampling.N).Select(_ => new Choice(tokenizer, sampling.Stop)).ToList();
        StartEvents(context);
        for (int i = 0; i < choices.Count; i++)
            await EventAsync(context, w => ChatChunk(w, id, i, role: true, "", null, null));
        await foreach (var token in job.Tokens.Reader.ReadAllAsync(context.RequestAborted))
        {
            var choice = choices[token.SampleIndex];
            choice.Add(token);
            string delta = choice.TakeDelta();
            var logprobs = sampling.LogProbs is { } top && token.Token >= 0 ? (token, top) : ((GeneratedToken, int)?)null;
            if (delta.Length > 0 || logprobs is not null || choice.Finish is not null)
                await EventAsync(context, w => ChatChunk(w, id, token.SampleIndex, role: false, delta, logprobs, choice.Finish is null ? null : choice.FinishText));
        }
        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    }

    private void ChatChunk(Utf8JsonWriter w, string id, int index, bool role, string content, (GeneratedToken Token, int Top)? logprobs, string? finish)
    {
        Header(w, id, "chat.completion.chunk");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        if (role) w.WriteString("role", "assistant");
        if (role || content.Length > 0) w.WriteString("content", content);
        w.WriteEndObject();
        if (logprobs is { } lp) ChatLogProbs(w, [lp.Token], lp.Top);
        else w.WriteNull("logprobs");
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
        w.WriteEndArray();
    }

    private void ChatLogProbs(Utf8JsonWriter w, IReadOnlyList<GeneratedToken> tokens, int top)
    {
        w.WriteStartObject("logprobs");
        w.WriteStartArray("content");
        foreach (var t in tokens)
        {
            w.WriteStartObject();
            TokenFields(w, t.Token, t.LogProb);
            w.WriteStartArray("top_logprobs");
            foreach (var (alternative, logProb) in t.TopLogProbs.Take(top))
            {
                w.WriteStartObject();
                TokenFields(w, alternative, logProb);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("refusal");
        w.WriteEndObject();
    }

    private void TokenFields(Utf8JsonWriter w, int token, float logProb)
    {
        string text = tokenizer.Decode([token]);
        w.WriteString("token", text);
        w.WriteNumber("logprob", logProb);
        w.WriteStartArray("bytes");
        foreach (byte b in tokenizer.TokenBytes(token)) w.WriteNumberValue(b);
        w.WriteEndArray();
    }

    private async Task RespondCompletionAsync(HttpContext context, string id, List<GenerationJob> jobs, CompletionRequest request, List<int[]> prompts)
    {
        var sampling = request.Sampling;
        var all = new List<(Choice Choice, int Prompt)>();
        for (int p = 0; p < jobs.Count; p++)
            all.AddRange((await CollectAsync(jobs[p], sampling.N, sampling.Stop, context.RequestAborted)).Select(c => (c, p)));
        await ServerHost.WriteJsonAsync(context, w =>
        {
            Header(w, id, "text_completion");
            w.WriteStartArray("choices");
            for (int i = 0; i < all.Count; i++)
            {
                var (choice, p) = all[i];
                string prefix = request.Echo ? request.Prompts[p] : "";
                w.WriteStartObject();
                w.WriteNumber("index", i);
                w.WriteString("text", prefix + choice.Text);
                if (sampling.LogProbs is { } top) CompletionLogProbs(w, choice.Tokens, top, prefix.Length);
                else w.WriteNull("logprobs");
                w.WriteString("finish_reason", choice.FinishText);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Usage(w, prompts.Sum(p => p.Length), all.Sum(c => c.Choice.Tokens.Count));
        });
    }

    private async Task StreamCompletionAsync(HttpContext context, string id, List<GenerationJob> jobs, SamplingRequest sampling)
    {
        StartEvents(context);
        for (int p = 0; p < jobs.Count; p++)
        {
            var choices = Enumerable.Range(0, sampling.N).Select(_ => new Choice(tokenizer, sampling.Stop)).ToList();
            await foreach (var token in jobs[p].Tokens.Reader.ReadAllAsync(context.RequestAborted))
            {
                var choice = choices[token.SampleIndex];
                int offset = choice.Sent;
                choice.Add(token);
                string delta = choice.TakeDelta();
                int index = p * sampling.N + token.SampleIndex;
                await EventAsync(context, w =>
                {
                    Header(w, id, "text_completion");
                    w.WriteStartArray("choices");
                    w.WriteStartObject();
                    w.WriteNumber("index", index);
                    w.WriteString("text", delta);
                    if (sampling.LogProbs is { } top && token.Token >= 0) CompletionLogProbs(w, [token], top, offset);
                    else w.WriteNull("logprobs");
                    if (choice.Finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", choice.FinishText);
                    w.WriteEndObject();
                    w.WriteEndArray();
                });
            }
        }
        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    }

    // The legacy completions shape: parallel arrays, top_logprobs as {token: logprob} objects, character offsets.
    private void CompletionLogProbs(Utf8JsonWriter w, IReadOnlyList<GeneratedToken> tokens, int top, int offset)
    {
        var texts = tokens.Select(t => tokenizer.Decode([t.Token])).ToList();
        w.WriteStartObject("logprobs");
        w.WriteStartArray("tokens");
        foreach (var t in texts) w.WriteStringValue(t);
        w.WriteEndArray();
        w.WriteStartArray("token_logprobs");
        foreach (var t in tokens) w.WriteNumberValue(t.LogProb);
        w.WriteEndArray();
        w.WriteStartArray("top_logprobs");
        foreach (var t in tokens)
        {
            if (top == 0) { w.WriteNullValue(); continue; }
            // Keyed by text: two tokens that decode alike (byte pieces of one character) keep the likelier.
            w.WriteStartObject();
            var written = new HashSet<string>();
            foreach (var (alternative, logProb) in t.TopLogProbs.Take(top))
                if (tokenizer.Decode([alternative]) is var text && written.Add(text)) w.WriteNumber(text, logProb);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("text_offset");
        foreach (var t in texts) { w.WriteNumberValue(offset); offset += t.Length; }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void Header(Utf8JsonWriter w, string id, string kind)
    {
        w.WriteString("id", id);
        w.WriteString("object", kind);
        w.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        w.WriteString("model", modelName);
        w.WriteNull("system_fingerprint");
    }

    private static void Usage(Utf8JsonWriter w, int prompt, int completion)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteEndObject();
    }

    private static void StartEvents(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
    }

    private static async Task EventAsync(HttpContext context, Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        buffer.Write("data: "u8);
        using (var w = new Utf8JsonWriter(buffer, ServerHost.Compact))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
        await context.Response.Body.WriteAsync(buffer.ToArray(), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}
