using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Reins.Cli.Serving;

/// <summary>
/// What every `reins serve` server shares: Kestrel on the given address with a body-size limit, the API key check,
/// errors as OpenAI's error body whatever fails, unknown paths as 404, and strict JSON bodies.
/// </summary>
internal static class ServerHost
{
    internal static readonly JsonWriterOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static WebApplication CreateApp(ServeSettings settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = settings.MaxRequestBytes;
            k.AddServerHeader = false;
            var address = settings.Host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(settings.Host, out var ip) ? ip
                : throw new ArgumentException($"serve: --host '{settings.Host}' is not an IP address (use 127.0.0.1, or 0.0.0.0 to listen on every interface).");
            k.Listen(address, settings.Port);
        });
        var app = builder.Build();
        app.Use(Errors);
        app.Use(Authorize(settings.ApiKey));
        app.MapFallback(context => throw new OpenAiError(404, $"Unknown request URL: {context.Request.Method} {context.Request.Path}.", code: "unknown_url"));
        return app;
    }

    /// <summary>The address a started app listens on (the real port when 0 was asked for).</summary>
    public static Uri Address(WebApplication app) => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    private static async Task Errors(HttpContext context, RequestDelegate next)
    {
        OpenAiError error;
        try
        {
            await next(context);
            return;
        }
        catch (OpenAiError e) { error = e; }
        catch (BadHttpRequestException e) { error = new OpenAiError(e.StatusCode, e.StatusCode == 413 ? "The request body is too large." : e.Message, code: e.StatusCode == 413 ? "request_too_large" : null); }
        catch (JsonException) { error = new OpenAiError(400, "We could not parse the JSON body of your request: it is not valid JSON.", code: "invalid_json"); }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested) { return; }
        catch (OperationCanceledException) { error = new OpenAiError(503, "The server is shutting down.", type: "server_error", code: "shutting_down"); }
        catch (Exception e) { error = new OpenAiError(500, $"The server failed on this request: {e.Message}", type: "server_error"); }
        if (context.Response.HasStarted) { context.Abort(); return; }
        await error.WriteAsync(context.Response);
    }

    private static Func<HttpContext, RequestDelegate, Task> Authorize(string? apiKey) => (context, next) =>
    {
        if (apiKey is { } key)
        {
            string header = context.Request.Headers.Authorization.ToString();
            var given = Encoding.UTF8.GetBytes(header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..] : "");
            if (!CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(key)))
                throw new OpenAiError(401, "Incorrect or missing API key: send it as 'Authorization: Bearer <key>'.", code: "invalid_api_key");
        }
        return next(context);
    };

    public static async Task<JsonDocument> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength is 0) throw new OpenAiError(400, "The request has no body; send a JSON object.", code: "invalid_json");
        var document = await JsonDocument.ParseAsync(context.Request.Body, new JsonDocumentOptions { MaxDepth = 64 }, context.RequestAborted);
        try
        {
            RequireValidStrings(document.RootElement, "body");
            return document;
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    // JSON may escape a lone surrogate ("\ud800"), which is no Unicode text: refused here, with its place, before any use.
    private static void RequireValidStrings(JsonElement element, string at)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                try { element.GetString(); }
                catch (InvalidOperationException) { throw new OpenAiError(400, $"{at} is not valid Unicode text (it holds a lone surrogate).", at, "invalid_value"); }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray()) RequireValidStrings(item, $"{at}[{i++}]");
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try { name = property.Name; }
                    catch (InvalidOperationException) { throw new OpenAiError(400, $"a field name in {at} is not valid Unicode text.", at, "invalid_value"); }
                    RequireValidStrings(property.Value, at == "body" ? name : $"{at}.{name}");
                }
                break;
        }
    }

    public static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> body)
    {
        context.Response.ContentType = "application/json";
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Compact))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        await context.Response.Body.WriteAsync(buffer.ToArray(), context.RequestAborted);
    }
}
