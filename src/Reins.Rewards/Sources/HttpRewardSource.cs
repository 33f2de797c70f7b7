using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reins.Rewards.Sources;

/// <summary>
/// Scores with a remote reward model speaking OpenRLHF's protocol (its <c>--remote_rm_url</c>): one POST per batch of
/// {"query": [prompt + completion], "prompts": [...], "labels": [record[labelField] or null]}, answered by
/// {"rewards": [one number per query]}. The body also carries "completions", "finished" and "records" (every request
/// as <see cref="ScoringRequestJson.ToJson"/> writes it), so a server can read any field of the prompt record.
/// A failed request (no connection, a 5xx status) is retried, as OpenRLHF does, before the error is raised; a reply that
/// does not come within <c>timeout</c> (default <see cref="CommandRewardSource.DefaultTimeout"/>) is an error at once.
/// </summary>
public sealed class HttpRewardSource(Uri endpoint, string labelField = "answer", string name = "remote", HttpClient? client = null, TimeSpan? timeout = null) : IRewardSource
{
    private const int Attempts = 3;
    private readonly HttpClient http = client ?? new HttpClient { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    private readonly TimeSpan timeout = timeout ?? CommandRewardSource.DefaultTimeout;

    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
    {
        var body = new JsonObject
        {
            ["query"] = Texts(requests, r => r.Prompt + r.Completion),
            ["prompts"] = Texts(requests, r => r.Prompt),
            ["labels"] = new JsonArray([.. requests.Select(r => r.Extra.TryGetValue(labelField, out var v) ? JsonNode.Parse(v.GetRawText()) : null)]),
            ["completions"] = Texts(requests, r => r.Completion),
            ["finished"] = new JsonArray([.. requests.Select(r => (JsonNode?)r.Finished)]),
            ["records"] = new JsonArray([.. requests.Select(r => (JsonNode?)ScoringRequestJson.ToJson(r))]),
        };
        var reply = Post(body, cancellation);
        string where = $"reward endpoint {endpoint}";
        if (reply?["rewards"] is not JsonArray rewards)
            throw new InvalidDataException($"{where}: expected {{\"rewards\": [...]}}, got {Shorten(reply?.ToJsonString() ?? "null")}.");
        if (rewards.Count != requests.Count)
            throw new InvalidDataException($"{where}: {rewards.Count} rewards for {requests.Count} queries.");
        return [.. rewards.Select((r, i) => ScoringRequestJson.ParseScore(r, $"{where}, reward {i + 1}"))];
    }

    private JsonNode? Post(JsonObject body, CancellationToken cancellation)
    {
        for (int attempt = 1; ; attempt++)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            deadline.CancelAfter(timeout);
            try
            {
                using var response = http.PostAsJsonAsync(endpoint, body, deadline.Token).GetAwaiter().GetResult();
                string text = response.Content.ReadAsStringAsync(deadline.Token).GetAwaiter().GetResult();
                if ((int)response.StatusCode >= 500 && attempt < Attempts) { Thread.Sleep(1000); continue; }
                if (!response.IsSuccessStatusCode)
                    throw new InvalidDataException($"reward endpoint {endpoint}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}: {Shorten(text)}");
                try { return JsonNode.Parse(text); }
                catch (JsonException e) { throw new InvalidDataException($"reward endpoint {endpoint}: the reply is not JSON ({e.Message}): {Shorten(text)}"); }
            }
            catch (HttpRequestException) when (attempt < Attempts)
            {
                Thread.Sleep(1000);
            }
            catch (HttpRequestException e)
            {
                throw new InvalidDataException($"reward endpoint {endpoint}: {e.Message} (after {Attempts} attempts).");
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                throw new TimeoutException($"reward endpoint {endpoint}: no reply within {timeout.TotalSeconds:G} s (--reward-timeout).");
            }
        }
    }

    private static JsonArray Texts(IReadOnlyList<ScoringRequest> requests, Func<ScoringRequest, string> text) =>
        new([.. requests.Select(r => (JsonNode?)text(r))]);

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "…";
}
