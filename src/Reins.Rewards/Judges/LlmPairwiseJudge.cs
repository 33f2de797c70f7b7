using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;

namespace Reins.Rewards.Judges;

/// <summary>
/// The prompt an LLM judge gets: a system message and a user message with {instruction}, {output_a} and {output_b} in
/// it. A template file holds the system message, a line "---", then the user message.
/// </summary>
public sealed record JudgeTemplate(string Name, string System, string User)
{
    /// <summary>
    /// The default, in the spirit of AlpacaEval's pairwise annotators (not their text): the judge answers with one letter,
    /// so that the verdict is one token whose probability is the soft label.
    /// </summary>
    public static readonly JudgeTemplate Default = new("reins_pairwise_v1",
        "You compare two responses to an instruction and say which one a careful, expert reader would prefer. Judge " +
        "helpfulness, correctness and clarity; ignore length and order unless they change the quality.",
        "Instruction:\n{instruction}\n\nResponse (a):\n{output_a}\n\nResponse (b):\n{output_b}\n\n" +
        "Which response is better? Answer with a single letter: a or b.");

    /// <summary>Reads a template file: system message, a line "---", user message.</summary>
    public static JudgeTemplate Load(string path)
    {
        var text = File.ReadAllText(path).Replace("\r\n", "\n");
        int split = text.IndexOf("\n---\n", StringComparison.Ordinal);
        if (split < 0) throw new InvalidDataException($"{path}: a judge template is a system message, a line '---', then the user message.");
        var user = text[(split + 5)..];
        foreach (var field in new[] { "{instruction}", "{output_a}", "{output_b}" })
            if (!user.Contains(field, StringComparison.Ordinal)) throw new InvalidDataException($"{path}: the user message must contain {field}.");
        return new JudgeTemplate(Path.GetFileNameWithoutExtension(path), text[..split], user);
    }

    /// <summary>The user message for one order of a pair.</summary>
    public string UserMessage(string instruction, string a, string b) =>
        User.Replace("{instruction}", instruction).Replace("{output_a}", a).Replace("{output_b}", b);
}

/// <summary>How to reach an OpenAI-compatible judge and how hard to try.</summary>
public sealed record LlmJudgeSettings(Uri Endpoint, string Model)
{
    /// <summary>The API key (read from an environment variable by the CLI, never from a flag).</summary>
    public string? ApiKey { get; init; }
    /// <summary>The judge's prompt.</summary>
    public JudgeTemplate Template { get; init; } = JudgeTemplate.Default;
    /// <summary>Requests in flight at most.</summary>
    public int Concurrency { get; init; } = 4;
    /// <summary>Retries of a request answered 429 or 5xx or timed out, with exponential backoff.</summary>
    public int MaxRetries { get; init; } = 5;
    /// <summary>How long one request may take before it counts as timed out (and is retried).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>SQLite file of every request and answer; null keeps no cache.</summary>
    public string? CachePath { get; init; }
    /// <summary>Ask for the verdict token's log-probs (a soft label); endpoints that refuse them get parsed verdicts.</summary>
    public bool UseLogProbs { get; init; } = true;
}

/// <summary>What a judge has spent and seen.</summary>
public sealed record JudgeUsage(int Requests, int CacheHits, long PromptTokens, long CompletionTokens, int SoftLabels, int ParsedVerdicts, int Unparsed);

/// <summary>A judge's answer: its text and, when the endpoint gave them, the likeliest first tokens with their log-probs.</summary>
internal sealed record JudgeAnswer(string Text, List<JudgeLogProb> Top);

/// <summary>One of the likeliest first tokens of an answer.</summary>
internal sealed record JudgeLogProb(string Token, float LogProb);

/// <summary>
/// The requests every LLM judge makes: through the cache, at most <see cref="LlmJudgeSettings.Concurrency"/> at a time,
/// retried with backoff by the OpenAI client's policy, tokens counted; an endpoint that refuses log-probs (400) is asked
/// without them from then on.
/// </summary>
internal sealed class JudgeClient : IDisposable
{
    private readonly LlmJudgeSettings settings;
    private readonly ChatClient client;
    private readonly JudgeCache? cache;
    private readonly SemaphoreSlim slots;
    private bool logProbs;
    private int requests, cacheHits;
    private long promptTokens, completionTokens;

    public JudgeClient(LlmJudgeSettings settings)
    {
        this.settings = settings;
        logProbs = settings.UseLogProbs;
        var options = new OpenAIClientOptions
        {
            Endpoint = settings.Endpoint,
            NetworkTimeout = settings.Timeout,
            RetryPolicy = new ClientRetryPolicy(settings.MaxRetries),
        };
        client = new ChatClient(settings.Model, new ApiKeyCredential(settings.ApiKey ?? "none"), options);
        cache = settings.CachePath is { } path ? new JudgeCache(path) : null;
        slots = new SemaphoreSlim(Math.Max(1, settings.Concurrency));
    }

    public (int Requests, int CacheHits, long PromptTokens, long CompletionTokens) Usage => (requests, cacheHits, promptTokens, completionTokens);

    /// <summary>Asks at temperature 0 for a short answer, with the <paramref name="topLogProbs"/> likeliest first tokens when the endpoint gives them.</summary>
    public async Task<JudgeAnswer> AskAsync(string system, string user, int maxTokens, int topLogProbs, CancellationToken cancellation)
    {
        bool withLogProbs = logProbs;
        string key = JudgeCache.Key(settings.Endpoint.ToString(), settings.Model, system, user, withLogProbs ? $"logprobs{topLogProbs}" : "text", "t0", $"max{maxTokens}");
        string? stored = cache?.Get(key);
        if (stored is not null) Interlocked.Increment(ref cacheHits);
        else
        {
            await slots.WaitAsync(cancellation);
            try { stored = await RequestAsync(system, user, maxTokens, withLogProbs ? topLogProbs : 0, cancellation); }
            finally { slots.Release(); }
            cache?.Put(key, stored);
        }
        return JsonSerializer.Deserialize<JudgeAnswer>(stored)!;
    }

    private async Task<string> RequestAsync(string system, string user, int maxTokens, int topLogProbs, CancellationToken cancellation)
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = maxTokens };
        if (topLogProbs > 0) { options.IncludeLogProbabilities = true; options.TopLogProbabilityCount = topLogProbs; }
        ChatCompletion completion;
        try
        {
            completion = (await client.CompleteChatAsync([new SystemChatMessage(system), new UserChatMessage(user)], options, cancellation)).Value;
        }
        catch (ClientResultException e) when (topLogProbs > 0 && e.Status == 400)
        {
            // Some endpoints refuse log-probs: from now on, parsed answers.
            logProbs = false;
            return await RequestAsync(system, user, maxTokens, 0, cancellation);
        }
        catch (ClientResultException e)
        {
            throw new HttpRequestException($"judge {settings.Model} at {settings.Endpoint}: HTTP {e.Status}: {e.Message}", e);
        }
        Interlocked.Increment(ref requests);
        Interlocked.Add(ref promptTokens, completion.Usage?.InputTokenCount ?? 0);
        Interlocked.Add(ref completionTokens, completion.Usage?.OutputTokenCount ?? 0);
        var first = completion.ContentTokenLogProbabilities.FirstOrDefault();
        return JsonSerializer.Serialize(new JudgeAnswer(string.Concat(completion.Content.Select(c => c.Text)),
            first?.TopLogProbabilities.Select(t => new JudgeLogProb(t.Token, t.LogProbability)).ToList() ?? []));
    }

    public void Dispose()
    {
        cache?.Dispose();
        slots.Dispose();
    }
}

/// <summary>
/// An LLM judge over any OpenAI-compatible endpoint (vLLM, llama.cpp, TGI, hosted APIs, `reins serve`): for each pair it
/// asks in both orders and averages, so a judge that favours the first position gains nothing (Zheng et al. 2023's
/// position bias; AlpacaEval randomises the order instead). With log-probs, a verdict is the probability of "a" against
/// "b" at the first answer token (a soft label); without, the parsed letter; an answer that is neither counts as a tie
/// and is counted in <see cref="Usage"/>.
/// </summary>
public sealed class LlmPairwiseJudge : IPairwiseJudge, IDisposable
{
    private readonly LlmJudgeSettings settings;
    private readonly JudgeClient client;
    private int soft, parsed, unparsed;

    /// <summary>A judge at <see cref="LlmJudgeSettings.Endpoint"/> (the API's base, e.g. http://127.0.0.1:8000/v1).</summary>
    public LlmPairwiseJudge(LlmJudgeSettings settings)
    {
        this.settings = settings;
        client = new JudgeClient(settings);
    }

    /// <inheritdoc/>
    public string Name => $"llm:{settings.Model}";

    /// <summary>Requests, cache hits, tokens and how verdicts were read, so far.</summary>
    public JudgeUsage Usage
    {
        get
        {
            var u = client.Usage;
            return new(u.Requests, u.CacheHits, u.PromptTokens, u.CompletionTokens, soft, parsed, unparsed);
        }
    }

    /// <inheritdoc/>
    public float[] Judge(IReadOnlyList<PairToJudge> pairs, CancellationToken cancellation = default) =>
        JudgeAsync(pairs.Select(p => (p.First.Prompt, p.First.Completion, p.Second.Completion)).ToList(), cancellation).GetAwaiter().GetResult();

    /// <summary>For each (instruction, first, second), the probability that the first response is the better one.</summary>
    public async Task<float[]> JudgeAsync(IReadOnlyList<(string Instruction, string First, string Second)> pairs, CancellationToken cancellation = default)
    {
        var asked = pairs.Select(p => (Forward: AskAsync(p.Instruction, p.First, p.Second, cancellation), Backward: AskAsync(p.Instruction, p.Second, p.First, cancellation))).ToList();
        await Task.WhenAll(asked.SelectMany(a => new[] { a.Forward, a.Backward }));
        // P(first better) from each order: P(a) when the first was shown as (a), P(b) when it was shown as (b).
        return [.. asked.Select(a => (a.Forward.Result + (1f - a.Backward.Result)) / 2f)];
    }

    // P("a" is better) for one order.
    private async Task<float> AskAsync(string instruction, string a, string b, CancellationToken cancellation)
    {
        var answer = await client.AskAsync(settings.Template.System, settings.Template.UserMessage(instruction, a, b), maxTokens: 4, topLogProbs: 5, cancellation);
        double pa = answer.Top.Where(t => Letter(t.Token) == 'a').Sum(t => Math.Exp(t.LogProb));
        double pb = answer.Top.Where(t => Letter(t.Token) == 'b').Sum(t => Math.Exp(t.LogProb));
        if (pa + pb > 0)
        {
            Interlocked.Increment(ref soft);
            return (float)(pa / (pa + pb));
        }
        switch (Letter(answer.Text))
        {
            case 'a': Interlocked.Increment(ref parsed); return 1f;
            case 'b': Interlocked.Increment(ref parsed); return 0f;
            default: Interlocked.Increment(ref unparsed); return 0.5f;
        }
    }

    // "a", " A", "(a)", "Response (a)", "a." → 'a'; anything else → none.
    private static char? Letter(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t.StartsWith("response", StringComparison.Ordinal)) t = t["response".Length..].Trim();
        t = t.Trim('(', ')', '.', ':', '*', ' ', '"', '\'');
        return t is "a" or "b" ? t[0] : null;
    }

    /// <inheritdoc/>
    public void Dispose() => client.Dispose();
}
