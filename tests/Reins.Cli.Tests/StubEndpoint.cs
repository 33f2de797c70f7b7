using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Reins.Cli.Tests;

/// <summary>A stand-in for an OpenAI-compatible judge: /v1/chat/completions answered by the test's handler, on 127.0.0.1.</summary>
internal static class StubEndpoint
{
    /// <summary>Starts the stub; the returned address is the API base ("…/v1").</summary>
    public static async Task<(WebApplication App, Uri Api)> StartAsync(RequestDelegate chatCompletions)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", chatCompletions);
        await app.StartAsync();
        return (app, new Uri(new Uri(app.Urls.First().TrimEnd('/') + "/"), "v1"));
    }
}
