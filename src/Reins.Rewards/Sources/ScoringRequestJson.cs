using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reins.Rewards.Sources;

/// <summary>How a <see cref="ScoringRequest"/> travels to an external scorer (a program or an HTTP endpoint).</summary>
public static class ScoringRequestJson
{
    /// <summary>
    /// The request as one flat JSON object, as TRL hands dataset columns to reward functions: every extra field of the
    /// prompt record, then "prompt", "completion", "prompt_ids", "completion_ids" and "finished" (which win over extra
    /// fields of the same name).
    /// </summary>
    public static JsonObject ToJson(ScoringRequest request)
    {
        var o = new JsonObject();
        foreach (var (key, value) in request.Extra) o[key] = JsonNode.Parse(value.GetRawText());
        o["prompt"] = request.Prompt;
        o["completion"] = request.Completion;
        o["prompt_ids"] = new JsonArray([.. request.PromptIds.Select(id => (JsonNode?)id)]);
        o["completion_ids"] = new JsonArray([.. request.CompletionIds.Select(id => (JsonNode?)id)]);
        o["finished"] = request.Finished;
        return o;
    }

    /// <summary>
    /// A score as a scorer writes it: a JSON number, or an object with a numeric "reward" (or "score"); null is NaN
    /// ("does not apply"). Anything else is an error naming <paramref name="where"/>.
    /// </summary>
    public static float ParseScore(JsonNode? node, string where)
    {
        switch (node)
        {
            case null: return float.NaN;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Number: return (float)v.GetValue<double>();
            case JsonObject o when o.TryGetPropertyValue("reward", out var inner) || o.TryGetPropertyValue("score", out inner):
                return ParseScore(inner, where);
            default: throw new InvalidDataException($"{where}: expected a number or {{\"reward\": number}}, got {node.ToJsonString()}.");
        }
    }
}
