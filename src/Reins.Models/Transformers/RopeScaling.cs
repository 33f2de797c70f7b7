using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reins.Models.Transformers;

/// <summary>
/// config.json's <c>rope_scaling</c>: "linear" (positions divided by a factor) or "llama3" (Llama 3.1/3.2: long
/// wavelengths slowed by <see cref="Factor"/>, short ones kept, a smooth blend between).
/// </summary>
public sealed record RopeScaling(string Type, float Factor, float LowFreqFactor = 1f, float HighFreqFactor = 4f, int OriginalMaxPositions = 8192)
{
    /// <summary>Parses the rope_scaling object, naming the field at fault.</summary>
    public static RopeScaling FromHuggingFace(JsonObject o, string source)
    {
        string type = (o["rope_type"] ?? o["type"]) switch
        {
            null => throw new InvalidDataException($"{source}: field 'rope_scaling.rope_type' is missing."),
            var n when n.GetValueKind() == JsonValueKind.String => n.GetValue<string>(),
            var n => throw new InvalidDataException($"{source}: field 'rope_scaling.rope_type' must be a string, got {n.ToJsonString()}."),
        };
        // Every factor divides a frequency or a wavelength: zero, negative or infinite would make them meaningless.
        float Num(string key) => o[key] is JsonNode n && n.GetValueKind() == JsonValueKind.Number && n.AsValue().TryGetValue<double>(out double v) && v > 0 && float.IsFinite((float)v)
            ? (float)v
            : throw new InvalidDataException($"{source}: field 'rope_scaling.{key}' is missing or not a positive finite number.");
        return type switch
        {
            "default" => new RopeScaling("default", 1f),
            "linear" => new RopeScaling(type, Num("factor")),
            "llama3" => new RopeScaling(type, Num("factor"), Num("low_freq_factor"), Num("high_freq_factor"), (int)Num("original_max_position_embeddings")),
            _ => throw new InvalidDataException($"{source}: field 'rope_scaling.rope_type' = '{type}' is not supported (default, linear, llama3)."),
        };
    }

    /// <summary>The config.json object.</summary>
    public JsonObject ToHuggingFace() => Type == "llama3"
        ? new JsonObject { ["rope_type"] = Type, ["factor"] = Factor, ["low_freq_factor"] = LowFreqFactor, ["high_freq_factor"] = HighFreqFactor, ["original_max_position_embeddings"] = OriginalMaxPositions }
        : new JsonObject { ["rope_type"] = Type, ["factor"] = Factor };

    /// <summary>Rescales the inverse frequencies θ_i in place, as transformers' rope initialisation functions do.</summary>
    public void Apply(Span<float> inverseFrequencies)
    {
        switch (Type)
        {
            case "linear":
                for (int i = 0; i < inverseFrequencies.Length; i++) inverseFrequencies[i] /= Factor;
                break;
            case "llama3":
                float lowWavelength = OriginalMaxPositions / LowFreqFactor, highWavelength = OriginalMaxPositions / HighFreqFactor;
                for (int i = 0; i < inverseFrequencies.Length; i++)
                {
                    float f = inverseFrequencies[i], wavelength = 2 * MathF.PI / f;
                    if (wavelength > lowWavelength) inverseFrequencies[i] = f / Factor;
                    else if (wavelength >= highWavelength)
                    {
                        float smooth = (OriginalMaxPositions / wavelength - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
                        inverseFrequencies[i] = (1 - smooth) * f / Factor + smooth * f;
                    }
                }
                break;
        }
    }
}
