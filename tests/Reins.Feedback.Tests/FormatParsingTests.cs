using Reins.Models.Chat;
using Reins.Feedback.Datasets;

namespace Reins.Feedback.Tests;

public sealed class FormatParsingTests : FileWritingTests
{
    private static ChatMessage User(string content) => new("user", content);
    private static ChatMessage Assistant(string content) => new("assistant", content);

    private (List<Example> Examples, DatasetReport Report) Read(string path, DatasetReadOptions? options = null)
    {
        var reader = new JsonlDatasetReader(path, options);
        var examples = reader.Read().ToList();
        return (examples, reader.Report);
    }

    [Fact]
    public void LanguageModelingStandardAndConversational()
    {
        var (standard, report) = Read(Files.Write("lm.jsonl", """{"text": "The cat sat."}""", """{"text": "On the mat.", "source": "web"}"""));
        Assert.Equal((DatasetFormat.LanguageModeling, DatasetStyle.Standard), (report.Format, report.Style));
        Assert.Equal(["The cat sat.", "On the mat."], standard.Cast<LanguageModelingExample>().Select(e => e.Text.Text));
        Assert.Equal("web", standard[1].Extra["source"].GetString());
        Assert.Equal(2, standard[1].Line);

        var (conversational, conversationalReport) = Read(Files.Write("chat.jsonl",
            """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}"""));
        Assert.Equal(DatasetStyle.Conversational, conversationalReport.Style);
        Assert.Equal([new("system", "Be brief."), User("Hi"), Assistant("Hello.")], ((LanguageModelingExample)conversational[0]).Text.Messages!);
    }

    [Fact]
    public void PromptOnlyKeepsExtraFieldsForRewardFunctions()
    {
        var (examples, report) = Read(Files.Write("math.jsonl",
            """{"prompt": "What is 2+3?", "answer": 5, "category": "arithmetic"}""",
            """{"prompt": [{"role": "user", "content": "What is 4*4?"}], "answer": 16, "category": "arithmetic"}"""),
            new DatasetReadOptions { Format = DatasetFormat.PromptOnly, SkipInvalid = true });
        // The second line is conversational in a standard dataset: skipped and counted, not mixed in.
        Assert.Equal(DatasetFormat.PromptOnly, report.Format);
        var first = Assert.IsType<PromptOnlyExample>(Assert.Single(examples));
        Assert.Equal("What is 2+3?", first.Prompt.Text);
        Assert.Equal(5, first.Extra["answer"].GetInt32());
        Assert.Equal("arithmetic", first.Extra["category"].GetString());
        Assert.Equal(1, report.Skipped[DatasetErrorReason.WrongType]);

        var (conversational, _) = Read(Files.Write("math-chat.jsonl", """{"prompt": [{"role": "user", "content": "What is 4*4?"}], "answer": 16}"""));
        var prompt = Assert.IsType<PromptOnlyExample>(Assert.Single(conversational));
        Assert.Equal([User("What is 4*4?")], prompt.Prompt.Messages!);
        Assert.Equal(16, prompt.Extra["answer"].GetInt32());
    }

    [Fact]
    public void PromptCompletionStandardAndConversational()
    {
        var (standard, report) = Read(Files.Write("pc.jsonl", """{"prompt": "The sky is", "completion": " blue."}"""));
        Assert.Equal(DatasetFormat.PromptCompletion, report.Format);
        var s = Assert.IsType<PromptCompletionExample>(Assert.Single(standard));
        Assert.Equal(("The sky is", " blue."), (s.Prompt.Text, s.Completion.Text));

        var (conversational, _) = Read(Files.Write("pc-chat.jsonl",
            """{"prompt": [{"role": "user", "content": "What color is the sky?"}], "completion": [{"role": "assistant", "content": "Blue."}]}"""));
        var c = Assert.IsType<PromptCompletionExample>(Assert.Single(conversational));
        Assert.Equal([User("What color is the sky?")], c.Prompt.Messages!);
        Assert.Equal([Assistant("Blue.")], c.Completion.Messages!);
    }

    [Fact]
    public void ExplicitPreferenceStandardAndConversational()
    {
        var (standard, report) = Read(Files.Write("prefs.jsonl", """{"prompt": "The sky is", "chosen": " blue.", "rejected": " green.", "annotator": "a7"}"""));
        Assert.Equal((DatasetFormat.Preference, DatasetStyle.Standard), (report.Format, report.Style));
        var s = Assert.IsType<PreferenceExample>(Assert.Single(standard));
        Assert.Equal(("The sky is", " blue.", " green."), (s.Prompt.Text, s.Chosen.Text, s.Rejected.Text));
        Assert.Equal("a7", s.Extra["annotator"].GetString());

        var (conversational, chatReport) = Read(Files.Write("prefs-chat.jsonl",
            """{"prompt": [{"role": "user", "content": "Sky color?"}], "chosen": [{"role": "assistant", "content": "Blue."}], "rejected": [{"role": "assistant", "content": "Green."}]}"""));
        Assert.Equal(DatasetStyle.Conversational, chatReport.Style);
        var c = Assert.IsType<PreferenceExample>(Assert.Single(conversational));
        Assert.Equal([User("Sky color?")], c.Prompt.Messages!);
        Assert.Equal([Assistant("Blue.")], c.Chosen.Messages!);
        Assert.Equal([Assistant("Green.")], c.Rejected.Messages!);
    }

    [Fact]
    public void UnpairedPreferenceStandardAndConversational()
    {
        var (standard, report) = Read(Files.Write("kto.jsonl",
            """{"prompt": "The sky is", "completion": " blue.", "label": true}""",
            """{"prompt": "The sky is", "completion": " green.", "label": false}"""));
        Assert.Equal(DatasetFormat.UnpairedPreference, report.Format);
        Assert.Equal([true, false], standard.Cast<UnpairedPreferenceExample>().Select(e => e.Label));
        Assert.Equal(" green.", ((UnpairedPreferenceExample)standard[1]).Completion.Text);

        var (conversational, _) = Read(Files.Write("kto-chat.jsonl",
            """{"prompt": [{"role": "user", "content": "Sky?"}], "completion": [{"role": "assistant", "content": "Green."}], "label": false}"""));
        var c = Assert.IsType<UnpairedPreferenceExample>(Assert.Single(conversational));
        Assert.False(c.Label);
        Assert.Equal([Assistant("Green.")], c.Completion.Messages!);
    }

    [Fact]
    public void RatingAttributesAreDiscoveredInFileOrderOrConfigured()
    {
        string path = Files.Write("helpsteer.jsonl",
            """{"prompt": "Explain rain.", "response": "Water falls.", "helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 0.5, "source": "hs2"}""",
            """{"prompt": "Explain snow.", "response": "Frozen water falls.", "helpfulness": 4, "correctness": 4, "coherence": 3, "complexity": 2, "verbosity": 1}""");
        var (discovered, report) = Read(path);
        Assert.Equal(DatasetFormat.Ratings, report.Format);
        string[] helpSteer = ["helpfulness", "correctness", "coherence", "complexity", "verbosity"];
        Assert.Equal(helpSteer, report.RatingAttributes);
        var first = Assert.IsType<RatingExample>(discovered[0]);
        Assert.Equal(helpSteer, first.Attributes);
        Assert.Equal([3, 4, 4, 1, 0.5], first.Ratings);
        Assert.Equal(0.5, first["verbosity"]);
        Assert.Equal("hs2", first.Extra["source"].GetString());
        Assert.Equal([4, 4, 3, 2, 1], ((RatingExample)discovered[1]).Ratings);

        var (configured, _) = Read(path, new DatasetReadOptions { RatingAttributes = ["correctness", "helpfulness"] });
        var second = Assert.IsType<RatingExample>(configured[1]);
        Assert.Equal([4, 4], second.Ratings);
        Assert.Equal([4, 3], ((RatingExample)configured[0]).Ratings);
        Assert.Equal(4, configured[0].Extra["coherence"].GetInt32());
    }

    [Fact]
    public void RankedListsExpandIntoEveryStrictlyOrderedPair()
    {
        var (examples, report) = Read(Files.Write("ranked.jsonl",
            """{"prompt": "Name a fruit.", "completions": ["Apple.", "A rock.", "Banana.", "Pear."], "ranks": [1, 3, 1, 2], "batch": 9}"""));
        Assert.Equal(DatasetFormat.RankedList, report.Format);
        var ranked = Assert.IsType<RankedExample>(Assert.Single(examples));
        Assert.Equal([1, 3, 1, 2], ranked.Ranks);
        var pairs = ranked.ToPreferencePairs().Select(p => (p.Chosen.Text, p.Rejected.Text)).ToList();
        // Apple and Banana tie, so they give no pair: 6 comparisons of 4 items minus 1 tie.
        Assert.Equal([("Apple.", "A rock."), ("Apple.", "Pear."), ("Banana.", "A rock."), ("Banana.", "Pear."), ("Pear.", "A rock.")], pairs);
        Assert.All(ranked.ToPreferencePairs(), p => Assert.Equal(9, p.Extra["batch"].GetInt32()));
    }

    [Fact]
    public void StepwiseSupervision()
    {
        var (examples, report) = Read(Files.Write("prm.jsonl",
            """{"prompt": "Which is larger, 9.8 or 9.11?", "completions": ["Compare 0.80 with 0.11.", "0.11 is larger, so 9.11."], "labels": [true, false]}"""));
        Assert.Equal((DatasetFormat.StepwiseSupervision, DatasetStyle.Standard), (report.Format, report.Style));
        var step = Assert.IsType<StepwiseExample>(Assert.Single(examples));
        Assert.Equal("Which is larger, 9.8 or 9.11?", step.Prompt);
        Assert.Equal(["Compare 0.80 with 0.11.", "0.11 is larger, so 9.11."], step.Steps);
        Assert.Equal([true, false], step.Labels);
    }

    [Fact]
    public void MathShepherdRecordsBecomeStepwiseRecords()
    {
        var (examples, report) = Read(Files.Write("shepherd.jsonl",
            """{"input": "Janet has 3 eggs. How many? Step 1: She has 3. ки\nStep 2: So 4. ки", "label": "Janet has 3 eggs. How many? Step 1: She has 3. +\nStep 2: So 4. -", "task": "GSM8K"}"""));
        Assert.Equal((DatasetFormat.MathShepherd, DatasetStyle.Standard), (report.Format, report.Style));
        var step = Assert.IsType<StepwiseExample>(Assert.Single(examples));
        Assert.Equal("Janet has 3 eggs. How many?", step.Prompt);
        Assert.Equal(["Step 1: She has 3.", "Step 2: So 4."], step.Steps);
        Assert.Equal([true, false], step.Labels);
        Assert.Equal("GSM8K", step.Extra["task"].GetString());
    }

    [Fact]
    public void SafetyPreferencesSplitIntoHelpfulnessAndSafetyPairs()
    {
        var (examples, report) = Read(Files.Write("pku.jsonl",
            """{"prompt": "How do I pick a lock?", "response_0": "Here is how...", "response_1": "I can't help with that.", "is_response_0_safe": false, "is_response_1_safe": true, "better_response_id": 0, "safer_response_id": 1, "response_0_severity_level": 2}"""));
        Assert.Equal(DatasetFormat.SafetyPreference, report.Format);
        var first = Assert.IsType<SafetyPreferenceExample>(examples[0]);
        Assert.Equal([false, true], first.IsSafe);
        Assert.Equal(2, first.Extra["response_0_severity_level"].GetInt32());
        var (helpful, safety) = SafetyPreferenceExample.Split(examples.Cast<SafetyPreferenceExample>());
        Assert.Equal(("Here is how...", "I can't help with that."), (helpful[0].Chosen.Text, helpful[0].Rejected.Text));
        Assert.Equal(("I can't help with that.", "Here is how..."), (safety[0].Chosen.Text, safety[0].Rejected.Text));
        Assert.Equal(1, safety[0].Line);
        var (chat, _) = Read(Files.Write("pku-chat.jsonl",
            """{"prompt": [{"role": "user", "content": "hi"}], "response_0": [{"role": "assistant", "content": "hello"}], "response_1": [{"role": "assistant", "content": "go away"}], "is_response_0_safe": true, "is_response_1_safe": true, "better_response_id": 1, "safer_response_id": 0}"""));
        Assert.Equal("hello", ((SafetyPreferenceExample)Assert.Single(chat)).Safety().Chosen.Messages![0].Content);
        Assert.Equal("go away", ((SafetyPreferenceExample)chat[0]).Helpfulness().Chosen.Messages![0].Content);

        var (single, singleReport) = Read(Files.Write("beavertails.jsonl", """{"prompt": "Q", "response": "A", "is_safe": false, "category": {"violence": true}}"""));
        Assert.Equal(DatasetFormat.SafetyLabel, singleReport.Format);
        Assert.False(Assert.IsType<SafetyLabelExample>(Assert.Single(single)).IsSafe);
    }

    [Fact]
    public void OverridingTheFormatReadsOtherFieldsAsExtra()
    {
        string path = Files.Write("prefs.jsonl", """{"prompt": "Q", "chosen": "good", "rejected": "bad"}""");
        var (examples, report) = Read(path, new DatasetReadOptions { Format = DatasetFormat.PromptOnly });
        Assert.Equal(DatasetFormat.PromptOnly, report.Format);
        var prompt = Assert.IsType<PromptOnlyExample>(Assert.Single(examples));
        Assert.Equal(["chosen", "rejected"], prompt.Extra.Keys.Order());
    }

    [Fact]
    public void LoadChecksTheRecordType()
    {
        string path = Files.Write("pc.jsonl", """{"prompt": "a", "completion": "b"}""");
        var dataset = JsonlDatasetReader.Load<PromptCompletionExample>(path);
        Assert.Single(dataset.Examples);
        Assert.Equal(1, dataset.Report.Records);
        var error = Assert.Throws<DatasetException>(() => JsonlDatasetReader.Load<PreferenceExample>(path));
        Assert.Equal($"{path}:1: the dataset is PromptCompletion (PromptCompletionExample), but PreferenceExample records are needed", error.Message);
        Assert.Equal(DatasetErrorReason.WrongFormat, error.Reason);
    }

    [Fact]
    public void IgnoredMessageKeysAreCounted()
    {
        var (_, report) = Read(Files.Write("chat.jsonl",
            """{"messages": [{"role": "user", "content": "Hi", "name": "ann"}, {"role": "assistant", "content": "Hello.", "name": "bot"}]}"""));
        Assert.Equal(2, report.IgnoredMessageKeys["name"]);
        Assert.Contains("ignored message keys name ×2", report.ToString());
    }
}
