using Reins.Models.Chat;
using System.Text.Json;

namespace Reins.Feedback.Datasets;

/// <summary>Builds the example of each format from a record's fields, one method per TRL dataset type.</summary>
internal static class RecordParser
{
    public static Example Parse(RecordFields f, ref ReadState state)
    {
        Example example = state.Format switch
        {
            DatasetFormat.LanguageModeling => LanguageModeling(f),
            DatasetFormat.PromptOnly => new PromptOnlyExample(f.TextOrConversation("prompt")),
            DatasetFormat.PromptCompletion => new PromptCompletionExample(f.TextOrConversation("prompt"), f.TextOrConversation("completion")),
            DatasetFormat.Preference => Preference(f, ref state),
            DatasetFormat.UnpairedPreference => new UnpairedPreferenceExample(
                f.TextOrConversation("prompt"), f.TextOrConversation("completion"), f.BoolAt("label", f.Get("label"))),
            DatasetFormat.Ratings => Ratings(f, ref state),
            DatasetFormat.RankedList => Ranked(f),
            DatasetFormat.StepwiseSupervision => Stepwise(f),
            DatasetFormat.MathShepherd => MathShepherd.Parse(f),
            DatasetFormat.SafetyPreference => SafetyPreference(f),
            DatasetFormat.SafetyLabel => new SafetyLabelExample(f.TextOrConversation("prompt"), f.TextOrConversation("response"), f.BoolAt("is_safe", f.Get("is_safe"))),
            DatasetFormat.AnthropicHh => AnthropicHhPair(f),
            _ => throw new ArgumentOutOfRangeException(nameof(state), state.Format, "not a concrete format"),
        };
        state = state with { Style = f.Style };
        return example;
    }

    private static LanguageModelingExample LanguageModeling(RecordFields f)
    {
        // The style decides the field, so a conversational dataset's record without "messages" is reported as missing
        // "messages" rather than as a "text" of the wrong style.
        bool conversational = f.Style switch
        {
            DatasetStyle.Conversational => true,
            DatasetStyle.Standard => false,
            _ => f.Has("messages"),
        };
        string field = conversational ? "messages" : "text";
        var value = f.Get(field);
        var expected = conversational ? JsonValueKind.Array : JsonValueKind.String;
        if (value.ValueKind != expected) throw f.WrongType(field, conversational ? "a list of messages" : "a string", value);
        return new LanguageModelingExample(f.TextOrConversationAt(field, value));
    }

    private static PreferenceExample Preference(RecordFields f, ref ReadState state)
    {
        bool explicitPrompt = state.ExplicitPrompt ?? f.Has("prompt");
        state = state with { ExplicitPrompt = explicitPrompt };
        if (explicitPrompt)
            return new PreferenceExample(f.TextOrConversation("prompt"), f.TextOrConversation("chosen"), f.TextOrConversation("rejected"));
        var chosen = f.TextOrConversation("chosen");
        var rejected = f.TextOrConversation("rejected");
        return ImplicitPrompt.Extract(chosen, rejected)
            ?? throw f.Error("chosen", DatasetErrorReason.InvalidValue, "chosen and rejected share no prefix to use as the implicit prompt");
    }

    private static RatingExample Ratings(RecordFields f, ref ReadState state)
    {
        var prompt = f.TextOrConversation("prompt");
        var response = f.TextOrConversation("response");
        var attributes = state.RatingAttributes ?? DiscoverAttributes(f);
        var ratings = new double[attributes.Count];
        for (int i = 0; i < ratings.Length; i++) ratings[i] = f.NumberAt(attributes[i], f.Get(attributes[i]));
        state = state with { RatingAttributes = attributes };
        return new RatingExample(prompt, response, attributes, ratings);
    }

    private static string[] DiscoverAttributes(RecordFields f)
    {
        var names = f.Root.EnumerateObject()
            .Where(p => p.Value.ValueKind == JsonValueKind.Number && p.Name is not ("prompt" or "response"))
            .Select(p => p.Name).ToArray();
        return names.Length > 0 ? names
            : throw f.Error(null, DatasetErrorReason.InvalidValue, "a ratings record has no numeric attribute; name them in DatasetReadOptions.RatingAttributes");
    }

    private static RankedExample Ranked(RecordFields f)
    {
        var prompt = f.TextOrConversation("prompt");
        var completions = f.List("completions", f.TextOrConversationAt);
        if (completions.Count < 2)
            throw f.Error("completions", DatasetErrorReason.InvalidValue, $"expected at least two completions to rank, got {completions.Count}");
        return new RankedExample(prompt, completions, f.ParallelList("ranks", f.IntegerAt, completions.Count, "completion"));
    }

    private static StepwiseExample Stepwise(RecordFields f)
    {
        f.Style = DatasetStyle.Standard;
        var prompt = f.String("prompt");
        var steps = f.List("completions", Step(f));
        if (steps.Count == 0) throw f.Error("completions", DatasetErrorReason.InvalidValue, "expected at least one step, got an empty list");
        return new StepwiseExample(prompt, steps, f.ParallelList("labels", f.BoolAt, steps.Count, "step"));
    }

    private static SafetyPreferenceExample SafetyPreference(RecordFields f)
    {
        var prompt = f.TextOrConversation("prompt");
        TextOrConversation[] responses = [f.TextOrConversation("response_0"), f.TextOrConversation("response_1")];
        bool[] safe = [f.BoolAt("is_response_0_safe", f.Get("is_response_0_safe")), f.BoolAt("is_response_1_safe", f.Get("is_response_1_safe"))];
        int Id(string field)
        {
            int id = f.IntegerAt(field, f.Get(field));
            return id is 0 or 1 ? id : throw f.Error(field, DatasetErrorReason.InvalidValue, $"expected 0 or 1, the index of a response, got {id}");
        }
        return new SafetyPreferenceExample(prompt, responses, safe, Id("better_response_id"), Id("safer_response_id"));
    }

    // A step is the unit a label is placed after, so one of only whitespace would label the separator alone.
    private static Func<string, JsonElement, string> Step(RecordFields f) => (field, value) =>
        f.StringAt(field, value) is { } step && !string.IsNullOrWhiteSpace(step) ? step
            : throw f.Error(field, DatasetErrorReason.InvalidValue, "empty step");

    private static PreferenceExample AnthropicHhPair(RecordFields f)
    {
        f.Style = DatasetStyle.Conversational;
        var chosen = Transcript(f, "chosen");
        var rejected = Transcript(f, "rejected");
        return ImplicitPrompt.Extract(TextOrConversation.FromMessages(chosen), TextOrConversation.FromMessages(rejected))
            ?? throw f.Error("chosen", DatasetErrorReason.InvalidValue, "chosen and rejected share no turn to use as the prompt");
    }

    private static IReadOnlyList<ChatMessage> Transcript(RecordFields f, string field)
    {
        string text = f.String(field);
        try { return AnthropicHh.ParseTranscript(text); }
        catch (FormatException e) { throw f.Error(field, DatasetErrorReason.InvalidValue, e.Message); }
    }
}
