using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Reins.Cli.Serving;

namespace Reins.Cli.Labelling;

/// <summary>
/// `reins label`: the labelling app. Annotators open a personal link; the page (shipped in the binary, no CDN) shows a
/// prompt and two responses in a recorded random order and sends A / B / tie / both bad, optional 1–7 ratings and a
/// reason. Every API call needs a token in the Authorization header — never a cookie — so another site cannot make a
/// browser send one (no cross-site request forgery to guard against); pages need the token in their link.
/// </summary>
internal sealed class LabelServer : IAsyncDisposable
{
    private const int MaxReason = 2000;
    private readonly WebApplication app;
    private readonly LabelStore store;

    private LabelServer(string project, string host, int port)
    {
        store = new LabelStore(project);
        app = ServerHost.CreateApp(new ServeSettings(project) { Host = host, Port = port, MaxRequestBytes = 64 << 10 });
        app.MapGet("/label", context => Page(context, admin: false, LabelPage.Annotator));
        app.MapGet("/admin", context => Page(context, admin: true, LabelPage.Admin));
        app.MapGet("/api/next", Next);
        app.MapPost("/api/labels", Submit);
        app.MapPost("/api/skip", Skip);
        app.MapGet("/api/admin/stats", async context => { Authenticate(context, admin: true); await Json(context, store.Statistics()); });
        app.MapGet("/api/admin/export", Export);
    }

    public Uri Address => ServerHost.Address(app);

    public static async Task<LabelServer> StartAsync(string project, string host = "127.0.0.1", int port = 8080, CancellationToken cancellation = default)
    {
        var server = new LabelServer(project, host, port);
        await server.app.StartAsync(cancellation);
        return server;
    }

    private (long Id, string Name, bool Admin) Authenticate(HttpContext context, bool admin, string? token = null)
    {
        string header = context.Request.Headers.Authorization.ToString();
        token ??= header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..] : null;
        var who = store.Authenticate(token) ?? throw new OpenAiError(401, "A valid access token is needed: open your personal link.", code: "invalid_token");
        if (admin && !who.Admin) throw new OpenAiError(403, "This needs the admin token.", code: "forbidden");
        return who;
    }

    private async Task Page(HttpContext context, bool admin, string html)
    {
        Authenticate(context, admin, context.Request.Query["token"].ToString());
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync(html);
    }

    private async Task Next(HttpContext context)
    {
        var who = Authenticate(context, admin: false);
        var next = store.Next(who.Id);
        var (done, total) = store.Progress(who.Id);
        var progress = new JsonObject { ["done"] = done, ["total"] = total };
        if (next is null) { await Json(context, new JsonObject { ["finished"] = true, ["progress"] = progress }); return; }
        await Json(context, new JsonObject
        {
            ["finished"] = false, ["pair_id"] = next.Pair.Id, ["prompt"] = next.Pair.Prompt, ["left"] = next.Left, ["right"] = next.Right,
            ["attributes"] = new JsonArray([.. store.Attributes.Select(a => (JsonNode?)a)]), ["progress"] = progress,
        });
    }

    private async Task Submit(HttpContext context)
    {
        var who = Authenticate(context, admin: false);
        using var body = await ServerHost.ReadBodyAsync(context);
        var root = body.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new OpenAiError(400, "The body must be a JSON object.");
        string pairId = String(root, "pair_id", 200);
        string key = String(root, "idempotency_key", 100);
        var shown = store.Assigned(who.Id, pairId) ?? throw OpenAiError.Invalid("pair_id", $"'pair_id' {pairId} is not a pair you were given.");
        string choice = String(root, "choice", 20) switch
        {
            "left" => shown.Swapped ? "b" : "a",
            "right" => shown.Swapped ? "a" : "b",
            "tie" => "tie",
            "both_bad" => "both_bad",
            var other => throw OpenAiError.Invalid("choice", $"'choice' must be left, right, tie or both_bad, not '{other}'."),
        };
        string? ratings = null;
        if (root.TryGetProperty("ratings", out var r) && r.ValueKind != JsonValueKind.Null)
        {
            if (r.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid("ratings", "'ratings' must be an object of attribute: 1–7.");
            var attributes = store.Attributes;
            var checkedRatings = new JsonObject();
            foreach (var rating in r.EnumerateObject())
            {
                if (!attributes.Contains(rating.Name)) throw OpenAiError.Invalid($"ratings.{rating.Name}", $"'{rating.Name}' is not an attribute of this project.");
                if (rating.Value.ValueKind != JsonValueKind.Number || !rating.Value.TryGetInt32(out int v) || v is < 1 or > 7)
                    throw OpenAiError.Invalid($"ratings.{rating.Name}", $"'ratings.{rating.Name}' must be an integer from 1 to 7.");
                checkedRatings[rating.Name] = v;
            }
            ratings = checkedRatings.Count > 0 ? checkedRatings.ToJsonString() : null;
        }
        string? reason = null;
        if (root.TryGetProperty("reason", out var why) && why.ValueKind != JsonValueKind.Null)
        {
            reason = why.ValueKind == JsonValueKind.String ? why.GetString() : throw OpenAiError.Invalid("reason", "'reason' must be a string.");
            if (reason!.Length > MaxReason) throw OpenAiError.Invalid("reason", $"'reason' is {reason.Length} characters; at most {MaxReason}.");
            if (reason.Length == 0) reason = null;
        }
        bool saved;
        try { saved = store.Save(who.Id, shown, choice, ratings, reason, key); }
        catch (InvalidOperationException e) { throw new OpenAiError(409, $"Not saved: {e.Message}.", "pair_id", "already_labelled"); }
        var (done, total) = store.Progress(who.Id);
        await Json(context, new JsonObject { ["saved"] = saved, ["duplicate"] = !saved, ["progress"] = new JsonObject { ["done"] = done, ["total"] = total } });
    }

    private async Task Skip(HttpContext context)
    {
        var who = Authenticate(context, admin: false);
        using var body = await ServerHost.ReadBodyAsync(context);
        if (body.RootElement.ValueKind != JsonValueKind.Object) throw new OpenAiError(400, "The body must be a JSON object.");
        string pairId = String(body.RootElement, "pair_id", 200);
        if (!store.Skip(who.Id, pairId)) throw OpenAiError.Invalid("pair_id", $"'pair_id' {pairId} is not a pair you were given.");
        await Json(context, new JsonObject { ["skipped"] = true });
    }

    private async Task Export(HttpContext context)
    {
        Authenticate(context, admin: true);
        string format = context.Request.Query["format"].ToString() is { Length: > 0 } f ? f : "majority";
        var (lines, _) = LabelExport.Lines(store, format, context.Request.Query["include_judges"].ToString() == "true");
        context.Response.ContentType = "application/jsonl; charset=utf-8";
        await context.Response.WriteAsync(string.Concat(lines.Select(l => l + "\n")));
    }

    private static string String(JsonElement root, string field, int maxLength)
    {
        if (!root.TryGetProperty(field, out var v) || v.ValueKind != JsonValueKind.String) throw OpenAiError.Invalid(field, $"'{field}' must be a string.");
        string s = v.GetString()!;
        if (s.Length == 0 || s.Length > maxLength) throw OpenAiError.Invalid(field, $"'{field}' must have 1 to {maxLength} characters.");
        return s;
    }

    private static Task Json(HttpContext context, JsonObject body) => ServerHost.WriteJsonAsync(context, w =>
    {
        foreach (var (name, value) in body)
        {
            w.WritePropertyName(name);
            if (value is null) w.WriteNullValue(); else value.WriteTo(w);
        }
    });

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        store.Dispose();
    }
}
