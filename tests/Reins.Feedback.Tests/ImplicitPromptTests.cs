using Reins.Models.Chat;
using System.Text.Json;
using Reins.Feedback.Datasets;

namespace Reins.Feedback.Tests;

public sealed class ImplicitPromptTests : FileWritingTests
{
    private static ChatMessage User(string content) => new("user", content);
    private static ChatMessage Assistant(string content) => new("assistant", content);

    private static string Json(object value) => JsonSerializer.Serialize(value);

    private static object Messages(params ChatMessage[] messages) => messages.Select(m => new { role = m.Role, content = m.Content }).ToArray();

    private List<PreferenceExample> ReadPreferences(string path, out DatasetReport report)
    {
        var dataset = JsonlDatasetReader.Load<PreferenceExample>(path);
        report = dataset.Report;
        return [.. dataset.Examples];
    }

    [Fact]
    public void ConversationsSharingAPrefixSplitIntoPromptAndCompletions()
    {
        ChatMessage[] shared = [new("system", "You are terse."), User("Capital of France?"), Assistant("Paris."), User("And of Italy?")];
        string path = Files.Write("implicit.jsonl", Json(new
        {
            chosen = Messages([.. shared, Assistant("Rome.")]),
            rejected = Messages([.. shared, Assistant("Milan.")]),
        }));
        var example = Assert.Single(ReadPreferences(path, out var report));
        Assert.Equal((DatasetFormat.Preference, DatasetStyle.Conversational), (report.Format, report.Style));
        Assert.Equal(shared, example.Prompt.Messages!);
        Assert.Equal([Assistant("Rome.")], example.Chosen.Messages!);
        Assert.Equal([Assistant("Milan.")], example.Rejected.Messages!);
    }

    [Fact]
    public void TextPrefixLeavesTheSpaceWithTheCompletionsAsTrlDoes()
    {
        var example = ImplicitPrompt.Extract(TextOrConversation.FromText("The sky is blue."), TextOrConversation.FromText("The sky is green."))!;
        Assert.Equal(("The sky is", " blue.", " green."), (example.Prompt.Text, example.Chosen.Text, example.Rejected.Text));
    }

    [Fact]
    public void IdenticalOrPrefixConversationsKeepOneMessageInEachCompletion()
    {
        var identical = ImplicitPrompt.Extract(
            TextOrConversation.FromMessages([User("Hi"), Assistant("Hello.")]),
            TextOrConversation.FromMessages([User("Hi"), Assistant("Hello.")]))!;
        Assert.Equal([User("Hi")], identical.Prompt.Messages!);
        Assert.Equal([Assistant("Hello.")], identical.Chosen.Messages!);

        var prefix = ImplicitPrompt.Extract(
            TextOrConversation.FromMessages([User("Hi"), Assistant("Hello.")]),
            TextOrConversation.FromMessages([User("Hi"), Assistant("Hello."), User("Bye"), Assistant("Bye.")]))!;
        Assert.Equal([User("Hi")], prefix.Prompt.Messages!);
        Assert.Equal([Assistant("Hello."), User("Bye"), Assistant("Bye.")], prefix.Rejected.Messages!);
    }

    [Fact]
    public void NothingSharedIsAnError()
    {
        string path = Files.Write("implicit.jsonl", Json(new { chosen = Messages(User("A"), Assistant("x")), rejected = Messages(User("B"), Assistant("y")) }));
        var error = Assert.Throws<DatasetException>(() => ReadPreferences(path, out _));
        Assert.Equal($"{path}:1: field \"chosen\": chosen and rejected share no prefix to use as the implicit prompt", error.Message);
    }

    [Fact]
    public void AnExplicitPromptDatasetDoesNotSilentlyTurnImplicit()
    {
        string path = Files.Write("prefs.jsonl",
            """{"prompt": "Q: 2+2?", "chosen": " 4", "rejected": " 5"}""",
            """{"chosen": "Q: 3+3? 6", "rejected": "Q: 3+3? 7"}""");
        var error = Assert.Throws<DatasetException>(() => ReadPreferences(path, out _));
        Assert.Equal((DatasetErrorReason.MissingField, 2, "prompt"), (error.Reason, error.LineNumber, error.Field));
    }

    // Two transcripts in the form of the HH-RLHF helpful-base split: a shared multi-turn history (with a paragraph
    // break inside an Assistant turn) and different final Assistant turns.
    private const string History =
        "\n\nHuman: Hi, I want to learn to play horseshoes. Can you teach me?" +
        "\n\nAssistant: I can, but maybe I should begin by telling you that a typical game consists of 2 players and 6 horseshoes." +
        "\n\nYou throw them at a stake about 40 feet away." +
        "\n\nHuman: Okay. What else is needed to play, and what are the rules?";
    private const string ChosenTranscript = History +
        "\n\nAssistant: A horseshoe is usually made out of metal. You also need two stakes. A shoe that lands around the stake is a \"ringer\" and scores 3 points.";
    private const string RejectedTranscript = History +
        "\n\nAssistant: Horseshoes are either metal or plastic discs. ";

    [Fact]
    public void AnthropicHhTranscriptsBecomeConversationalPreferences()
    {
        string path = Files.Write("hh.jsonl", Json(new { chosen = ChosenTranscript, rejected = RejectedTranscript }));
        var example = Assert.Single(ReadPreferences(path, out var report));
        Assert.Equal((DatasetFormat.AnthropicHh, DatasetStyle.Conversational), (report.Format, report.Style));
        Assert.Equal(
            [
                User("Hi, I want to learn to play horseshoes. Can you teach me?"),
                Assistant("I can, but maybe I should begin by telling you that a typical game consists of 2 players and 6 horseshoes.\n\nYou throw them at a stake about 40 feet away."),
                User("Okay. What else is needed to play, and what are the rules?"),
            ],
            example.Prompt.Messages!);
        Assert.Equal([Assistant("A horseshoe is usually made out of metal. You also need two stakes. A shoe that lands around the stake is a \"ringer\" and scores 3 points.")], example.Chosen.Messages!);
        Assert.Equal([Assistant("Horseshoes are either metal or plastic discs.")], example.Rejected.Messages!);
        Assert.Empty(example.Extra);
    }

    [Fact]
    public void AnthropicHhIdenticalTranscriptsStillYieldTheFinalTurn()
    {
        string path = Files.Write("hh.jsonl", Json(new { chosen = ChosenTranscript, rejected = ChosenTranscript }));
        var example = Assert.Single(ReadPreferences(path, out _));
        Assert.Equal(3, example.Prompt.Messages!.Count);
        Assert.Equal(example.Chosen.Messages!, example.Rejected.Messages!);
    }

    [Fact]
    public void AnthropicHhTranscriptEndingWithTheHumanIsAnError()
    {
        string path = Files.Write("hh.jsonl", Json(new { chosen = ChosenTranscript, rejected = History }));
        var error = Assert.Throws<DatasetException>(() => ReadPreferences(path, out _));
        Assert.Equal($"{path}:1: field \"rejected\": the transcript ends with a Human turn; expected the Assistant's reply last", error.Message);
    }

    [Fact]
    public void AnthropicHhTranscriptMustStartWithATurn()
    {
        var error = Assert.Throws<FormatException>(() => AnthropicHh.ParseTranscript("Preamble\n\nHuman: Hi\n\nAssistant: Hello"));
        Assert.Equal("expected a transcript starting with \"\\n\\nHuman:\"", error.Message);
        Assert.Equal([User("Hi"), Assistant("Hello")], AnthropicHh.ParseTranscript("Human: Hi\n\nAssistant: Hello"));
    }
}
