using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Reins.Cli.Serving;

/// <summary>
/// An error answered in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with its HTTP status. Every
/// failure of the server ends as one of these, never as ASP.NET's ProblemDetails.
/// </summary>
internal sealed class OpenAiError(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error") : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static OpenAiError Invalid(string param, string message) => new(400, message, param, "invalid_value");

    public async Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = Status;
        response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(response.Body, ServerHost.Compact);
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", Message);
        writer.WriteString("type", Type);
        if (Param is null) writer.WriteNull("param"); else writer.WriteString("param", Param);
        if (Code is null) writer.WriteNull("code"); else writer.WriteString("code", Code);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
