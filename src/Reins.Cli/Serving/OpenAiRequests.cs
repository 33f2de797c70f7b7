using System.Text;
using System.Text.Json;
using Reins.Models.Chat;

namespace Reins.Cli.Serving;

/// <summary>The sampling fields chat and text completions share, read and range-checked with the field named in any error.</summary>
internal sealed record SamplingRequest(string Model, int N, float Temperature, float TopP, int? MaxTokens, IReadOnlyList<string> Stop, ulong? Seed, bool Stream, int? LogProbs);

/// <summary>A POST /v1/chat/completions body.</summary>
internal sealed record ChatRequest(IReadOnlyList<ChatMessage> Messages, SamplingRequest Sampling);

/// <summary>A POST /v1/completions body.</summary>
internal sealed record CompletionRequest(IReadOnlyList<string> Prompts, bool Echo, SamplingRequest Sampling);

/// <summary>
/// Reads OpenAI request bodies strictly: a field of the wrong type or out of range is a 400 naming it, an unknown role
/// is refused; fields this server does not implement (tools, response_format, …) are refused rather than ignored.
/// </summary>
internal static class OpenAiRequests
{
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool"];
    private static readonly HashSet<string> Ignored = ["user", "frequency_penalty", "presence_penalty", "stream_options", "store", "metadata", "service_tier"];

    public static ChatRequest ReadChat(JsonElement body)
    {
        RequireObject(body);
        Refuse(body, "tools", "tool_choice", "functions", "function_call", "response_format", "logit_bias", "audio", "modalities", "prediction", "parallel_tool_calls");
        var messages = body.TryGetProperty("messages", out var m) ? m : throw new OpenAiError(400, "'messages' is required.", "messages", "missing_required_parameter");
        if (messages.ValueKind != JsonValueKind.Array) throw Invalid("messages", "must be an array");
        if (messages.GetArrayLength() == 0) throw Invalid("messages", "must have at least one message");
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var message in messages.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (message.ValueKind != JsonValueKind.Object) throw Invalid(at, "must be an object");
            string role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()!
                : throw Invalid($"{at}.role", "must be a string");
            if (!Roles.Contains(role)) throw Invalid($"{at}.role", $"'{role}' is not one of system, developer, user, assistant, tool");
            list.Add(new ChatMessage(role == "developer" ? "system" : role, Content(message, $"{at}.content", role)));
        }
        var sampling = ReadSampling(body);
        if (body.TryGetProperty("logprobs", out var lp) && lp.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            throw Invalid("logprobs", "must be a boolean");
        bool logprobs = lp.ValueKind == JsonValueKind.True;
        int? top = OptionalInt(body, "top_logprobs", 0, 20);
        if (top is > 0 && !logprobs) throw Invalid("top_logprobs", "needs logprobs set to true");
        return new ChatRequest(list, sampling with { LogProbs = logprobs ? top ?? 0 : null });
    }

    public static CompletionRequest ReadCompletion(JsonElement body)
    {
        RequireObject(body);
        Refuse(body, "suffix", "best_of", "logit_bias");
        var prompt = body.TryGetProperty("prompt", out var p) ? p : throw new OpenAiError(400, "'prompt' is required.", "prompt", "missing_required_parameter");
        List<string> prompts = prompt.ValueKind switch
        {
            JsonValueKind.String => [prompt.GetString()!],
            JsonValueKind.Array when prompt.GetArrayLength() > 0 && prompt.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String) => [.. prompt.EnumerateArray().Select(x => x.GetString()!)],
            _ => throw Invalid("prompt", "must be a string or a non-empty array of strings"),
        };
        if (prompts.Any(x => x.Length == 0)) throw Invalid("prompt", "must not be empty");
        var sampling = ReadSampling(body) with { LogProbs = OptionalInt(body, "logprobs", 0, 5) };
        bool echo = OptionalBool(body, "echo") ?? false;
        if (echo && sampling.Stream) throw Invalid("echo", "is not supported with stream");
        return new CompletionRequest(prompts, echo, sampling);
    }

    private static SamplingRequest ReadSampling(JsonElement body)
    {
        string model = body.TryGetProperty("model", out var m) ? m.ValueKind == JsonValueKind.String ? m.GetString()! : throw Invalid("model", "must be a string")
            : throw new OpenAiError(400, "'model' is required.", "model", "missing_required_parameter");
        foreach (var property in body.EnumerateObject())
            if (!Known.Contains(property.Name) && !Ignored.Contains(property.Name))
                throw new OpenAiError(400, $"Unrecognized request argument supplied: {property.Name}", property.Name, "unknown_parameter");
        int n = OptionalInt(body, "n", 1, 16) ?? 1;
        float temperature = OptionalNumber(body, "temperature", 0, 2) ?? 1f;
        float topP = OptionalNumber(body, "top_p", 0, 1) ?? 1f;
        if (topP == 0) throw Invalid("top_p", "must be greater than 0");
        int? maxTokens = OptionalInt(body, "max_completion_tokens", 1, int.MaxValue) ?? OptionalInt(body, "max_tokens", 1, int.MaxValue);
        var stop = new List<string>();
        if (body.TryGetProperty("stop", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            if (s.ValueKind == JsonValueKind.String) stop.Add(s.GetString()!);
            else if (s.ValueKind == JsonValueKind.Array && s.GetArrayLength() <= 4 && s.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String)) stop.AddRange(s.EnumerateArray().Select(x => x.GetString()!));
            else throw Invalid("stop", "must be a string or an array of at most 4 strings");
            if (stop.Any(x => x.Length == 0)) throw Invalid("stop", "must not hold an empty string");
        }
        ulong? seed = null;
        if (body.TryGetProperty("seed", out var sd) && sd.ValueKind != JsonValueKind.Null)
            seed = sd.ValueKind == JsonValueKind.Number && sd.TryGetInt64(out long v) ? unchecked((ulong)v) : throw Invalid("seed", "must be an integer");
        bool stream = OptionalBool(body, "stream") ?? false;
        return new SamplingRequest(model, n, temperature, topP, maxTokens, stop, seed, stream, null);
    }

    private static readonly HashSet<string> Known =
        ["model", "messages", "prompt", "n", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "stream", "logprobs", "top_logprobs", "echo"];

    private static string Content(JsonElement message, string at, string role)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
            return role == "assistant" ? "" : throw new OpenAiError(400, $"'{at}' is required.", at, "missing_required_parameter");
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) throw Invalid(at, "must be a string or an array of text parts");
        var text = new StringBuilder();
        int i = 0;
        foreach (var part in content.EnumerateArray())
        {
            string partAt = $"{at}[{i++}]";
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                throw Invalid(partAt, "must be an object with a 'type'");
            if (type.GetString() != "text") throw Invalid($"{partAt}.type", $"'{type.GetString()}' parts are not supported (text only)");
            text.Append(part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : throw Invalid($"{partAt}.text", "must be a string"));
        }
        return text.ToString();
    }

    private static void RequireObject(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object) throw new OpenAiError(400, "The request body must be a JSON object.");
    }

    private static void Refuse(JsonElement body, params string[] fields)
    {
        foreach (var field in fields)
            if (body.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null)
                throw new OpenAiError(400, $"'{field}' is not supported by this server.", field, "unsupported_parameter");
    }

    private static int? OptionalInt(JsonElement body, string field, int min, int max)
    {
        if (!body.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int x)) throw Invalid(field, "must be an integer");
        if (x < min || x > max) throw Invalid(field, max == int.MaxValue ? $"must be at least {min}" : $"must be between {min} and {max}");
        return x;
    }

    private static float? OptionalNumber(JsonElement body, string field, float min, float max)
    {
        if (!body.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number) throw Invalid(field, "must be a number");
        double x = v.GetDouble();
        if (!(x >= min && x <= max)) throw Invalid(field, $"must be between {min} and {max}");
        return (float)x;
    }

    private static bool? OptionalBool(JsonElement body, string field)
    {
        if (!body.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Invalid(field, "must be a boolean") };
    }

    private static OpenAiError Invalid(string field, string why) => OpenAiError.Invalid(field, $"'{field}' {why}.");
}
