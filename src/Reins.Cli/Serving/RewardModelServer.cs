using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Reins.Feedback.Tokenization;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Sources;

namespace Reins.Cli.Serving;

/// <summary>
/// A reward (or cost) model served on OpenRLHF's remote reward-model protocol (`reins serve --reward-model`): POST
/// /get_reward with {"query": [prompt + response, …], "prompts": [prompt, …], "labels": […]} answered by {"rewards": [one
/// number per query]}, as `--reward-url` (<see cref="HttpRewardSource"/>) and OpenRLHF's --remote_rm_url send it, so an
/// online method on one machine can score on another. A query that starts with its prompt is scored as that prompt and
/// the rest; without prompts, the whole query is the response.
/// </summary>
internal sealed class RewardModelServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly RewardModelSource source;
    private readonly Lock gate = new();

    private RewardModelServer(ServeSettings settings)
    {
        var model = RewardModel.Load(settings.ModelDirectory);
        source = new RewardModelSource(model, new TokenizerEncoder(model.TokenizerFrom(settings.ModelDirectory)),
            model.IsCostModel ? new Rewards.Scoring.RewardScoringOptions { Normalize = false } : null);
        app = ServerHost.CreateApp(settings);
        app.MapPost("/get_reward", GetReward);
    }

    /// <summary>The address the server listens on.</summary>
    public Uri Address => ServerHost.Address(app);

    /// <summary>Loads the reward model and starts listening.</summary>
    public static async Task<RewardModelServer> StartAsync(ServeSettings settings, CancellationToken cancellation = default)
    {
        var server = new RewardModelServer(settings);
        await server.app.StartAsync(cancellation);
        return server;
    }

    private async Task GetReward(HttpContext context)
    {
        using var body = await ServerHost.ReadBodyAsync(context);
        var root = body.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new OpenAiError(400, "The request body must be a JSON object.");
        var queries = Strings(root, "query") ?? throw new OpenAiError(400, "'query' is required: a list of prompt + response texts.", "query", "missing_required_parameter");
        var prompts = Strings(root, "prompts");
        if (prompts is not null && prompts.Count != queries.Count)
            throw OpenAiError.Invalid("prompts", $"'prompts' has {prompts.Count} texts for {queries.Count} queries.");
        var requests = queries.Select((q, i) =>
        {
            string prompt = prompts is not null && q.StartsWith(prompts[i], StringComparison.Ordinal) ? prompts[i] : "";
            return new ScoringRequest(prompt, q[prompt.Length..], [], [], true, new Dictionary<string, JsonElement>());
        }).ToList();
        float[] rewards;
        // One model, one scoring at a time: concurrent requests wait for each other.
        lock (gate) rewards = requests.Count == 0 ? [] : source.Score(requests, context.RequestAborted);
        await ServerHost.WriteJsonAsync(context, w =>
        {
            w.WriteStartArray("rewards");
            foreach (var r in rewards) w.WriteNumberValue(r);
            w.WriteEndArray();
        });
    }

    private static List<string>? Strings(JsonElement root, string field)
    {
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
            throw OpenAiError.Invalid(field, $"'{field}' must be a list of strings.");
        return [.. value.EnumerateArray().Select(x => x.GetString()!)];
    }

    /// <summary>Stops accepting requests and lets those in flight finish.</summary>
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
