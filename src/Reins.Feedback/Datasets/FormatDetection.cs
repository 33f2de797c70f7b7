using System.Text.Json;

namespace Reins.Feedback.Datasets;

/// <summary>Picks a format from a record's keys, most specific first, as TRL infers a dataset type from its columns.</summary>
internal static class FormatDetection
{
    public static DatasetFormat? Detect(JsonElement record)
    {
        bool Has(string key) => record.TryGetProperty(key, out _);
        if (Has("chosen") && Has("rejected"))
            return !Has("prompt") && LooksLikeHhTranscript(record.GetProperty("chosen")) ? DatasetFormat.AnthropicHh : DatasetFormat.Preference;
        if (Has("response_0") && Has("response_1")) return DatasetFormat.SafetyPreference;
        if (Has("completions") && Has("ranks")) return DatasetFormat.RankedList;
        if (Has("completions") && Has("labels")) return DatasetFormat.StepwiseSupervision;
        if (Has("input") && Has("label") && !Has("completion")) return DatasetFormat.MathShepherd;
        if (Has("completion") && Has("label")) return DatasetFormat.UnpairedPreference;
        if (Has("prompt") && Has("completion")) return DatasetFormat.PromptCompletion;
        if (Has("prompt") && Has("response") && Has("is_safe")) return DatasetFormat.SafetyLabel;
        if (Has("prompt") && Has("response")) return DatasetFormat.Ratings;
        if (Has("messages") || Has("text")) return DatasetFormat.LanguageModeling;
        if (Has("prompt")) return DatasetFormat.PromptOnly;
        return null;
    }

    private static bool LooksLikeHhTranscript(JsonElement chosen) =>
        chosen.ValueKind == JsonValueKind.String && Models.Tokenizers.JsonText.StringOrNull(chosen) is { } text
        && text.Contains("Human:", StringComparison.Ordinal) && text.Contains("\n\nAssistant:", StringComparison.Ordinal);

    /// <summary>What a record of the format must hold, for "missing field" messages.</summary>
    public static string Needs(DatasetFormat format) => format switch
    {
        DatasetFormat.LanguageModeling => "a language-modelling record needs \"text\" or \"messages\"",
        DatasetFormat.PromptOnly => "a prompt-only record needs \"prompt\"",
        DatasetFormat.PromptCompletion => "a prompt-completion record needs \"prompt\" and \"completion\"",
        DatasetFormat.Preference => "a preference record needs \"chosen\" and \"rejected\", and \"prompt\" unless the prompt is implicit",
        DatasetFormat.UnpairedPreference => "an unpaired preference record needs \"prompt\", \"completion\" and \"label\"",
        DatasetFormat.Ratings => "a ratings record needs \"prompt\", \"response\" and the rating attributes",
        DatasetFormat.RankedList => "a ranked-list record needs \"prompt\", \"completions\" and \"ranks\"",
        DatasetFormat.StepwiseSupervision => "a step-wise record needs \"prompt\", \"completions\" and \"labels\"",
        DatasetFormat.MathShepherd => "a Math-Shepherd record needs \"input\" (steps ending in the tag \"ки\") and \"label\" (the same text with + or - for each tag)",
        DatasetFormat.SafetyPreference => "a PKU-SafeRLHF record needs \"prompt\", \"response_0\", \"response_1\", \"is_response_0_safe\", \"is_response_1_safe\", \"better_response_id\" and \"safer_response_id\"",
        DatasetFormat.SafetyLabel => "a BeaverTails record needs \"prompt\", \"response\" and \"is_safe\"",
        DatasetFormat.AnthropicHh => "an HH-RLHF record needs \"chosen\" and \"rejected\" transcripts",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not a concrete format"),
    };
}
