using Reins.Feedback.Datasets;

namespace Reins.Feedback.Tests;

public sealed class ReaderErrorTests : FileWritingTests
{
    private const string Valid = """{"prompt": "Q", "chosen": "good", "rejected": "bad"}""";

    private static DatasetException ReadFails(string path, DatasetReadOptions? options = null) =>
        Assert.Throws<DatasetException>(() => new JsonlDatasetReader(path, options).Read().ToList());

    [Fact]
    public void MalformedJsonNamesFileLineAndByte()
    {
        string path = Files.Write("prefs.jsonl", Valid, Valid, """{"prompt": "Q", "chosen": "good" "rejected": "bad"}""");
        var error = ReadFails(path);
        Assert.Equal((DatasetErrorReason.MalformedJson, 3, null), (error.Reason, error.LineNumber, error.Field));
        Assert.StartsWith($"{path}:3: malformed JSON at byte 34: '\"' is invalid after a value.", error.Message);
        Assert.DoesNotContain("LineNumber", error.Message);
    }

    [Fact]
    public void DuplicateKeysAreMalformedRatherThanOneSilentlyWinning()
    {
        string path = Files.Write("prefs.jsonl", """{"prompt": "Q", "chosen": "good", "rejected": "bad", "chosen": "other"}""");
        Assert.Equal(DatasetErrorReason.MalformedJson, ReadFails(path).Reason);
    }

    [Fact]
    public void MissingFieldNamesTheFieldAndWhatTheFormatNeeds()
    {
        string path = Files.Write("prefs.jsonl", Valid, """{"prompt": "Q", "chosen": "good"}""");
        var error = ReadFails(path);
        Assert.Equal(
            $"{path}:2: field \"rejected\": missing (a preference record needs \"chosen\" and \"rejected\", and \"prompt\" unless the prompt is implicit)",
            error.Message);
        Assert.Equal((DatasetErrorReason.MissingField, 2, "rejected"), (error.Reason, error.LineNumber, error.Field));
    }

    [Fact]
    public void WrongTypeBeforeTheStyleIsKnownOffersBothStyles()
    {
        // Sixteen blank lines first: the location is the file's line, not the record's index.
        string path = Files.Write("prefs.jsonl", [.. Enumerable.Repeat("", 16), """{"prompt": "Q", "chosen": 3, "rejected": "bad"}"""]);
        Assert.Equal($"{path}:17: field \"chosen\": expected a string (the dataset is standard), got number", ReadFails(path).Message);

        path = Files.Write("prefs2.jsonl", [.. Enumerable.Repeat("", 16), """{"prompt": 3, "chosen": "good", "rejected": "bad"}"""]);
        var error = ReadFails(path);
        Assert.Equal($"{path}:17: field \"prompt\": expected a string or a list of messages, got number", error.Message);
        Assert.Equal((DatasetErrorReason.WrongType, 17, "prompt"), (error.Reason, error.LineNumber, error.Field));
    }

    [Fact]
    public void ARecordOfTheOtherStyleIsAWrongType()
    {
        string path = Files.Write("chat.jsonl",
            """{"prompt": [{"role": "user", "content": "Q"}], "completion": [{"role": "assistant", "content": "A"}]}""",
            """{"prompt": "Q", "completion": "A"}""");
        Assert.Equal($"{path}:2: field \"prompt\": expected a list of messages (the dataset is conversational), got string", ReadFails(path).Message);
    }

    [Theory]
    [InlineData("""{"messages": [{"role": "user", "content": "Hi"}, {"content": "Hello"}]}""", "messages[1].role", "missing (a message needs \"role\" and \"content\")")]
    [InlineData("""{"messages": [{"role": "user", "content": 7}]}""", "messages[0].content", "expected a string, got number")]
    [InlineData("""{"messages": ["Hi"]}""", "messages[0]", "expected a message {\"role\", \"content\"}, got string")]
    [InlineData("""{"messages": []}""", "messages", "expected at least one message, got an empty list")]
    [InlineData("""{"messages": "Hi"}""", "messages", "expected a list of messages, got string")]
    [InlineData("""{"prompt": "Q", "completion": "A", "label": "yes"}""", "label", "expected a boolean, got string")]
    [InlineData("""{"prompt": "Q", "completions": ["a", "b"], "ranks": [1]}""", "ranks", "expected 2 ranks, one per completion, got 1")]
    [InlineData("""{"prompt": "Q", "completions": ["a", "b"], "ranks": [1, 1.5]}""", "ranks[1]", "expected an integer, got 1.5")]
    [InlineData("""{"prompt": "Q", "completions": ["a", "b"], "labels": [true, null]}""", "labels[1]", "expected a boolean, got null")]
    [InlineData("""{"prompt": "Q", "completions": ["a", " "], "labels": [true, false]}""", "completions[1]", "empty step")]
    [InlineData("""{"prompt": "Q", "completions": ["a"], "labels": [true, false]}""", "labels", "expected 1 labels, one per step, got 2")]
    [InlineData("""{"input": "Q Step 1: a ки", "label": "Q Step 1: a ?"}""", "label", "character 12 is '?' where step 1's tag is; expected + or -")]
    [InlineData("""{"input": "Q Step 1: a ки", "label": "Q Step 1: b +"}""", "label", "differs from the input at character 10")]
    [InlineData("""{"input": "Q Step 1: a ки", "label": "Q Step 1: a"}""", "label", "has 11 characters; the input with one +/- per tag would have 13")]
    [InlineData("""{"input": "Q Step 1: a", "label": "Q Step 1: a"}""", "input", "no step tag \"ки\"")]
    [InlineData("""{"input": "Q a ки", "label": "Q a +"}""", "input", "cannot tell the problem from the first step: no \"Step 1:\" after the problem text")]
    [InlineData("""{"input": "Q Step 1: a ки b", "label": "Q Step 1: a + b"}""", "input", "text after the last step tag has no label")]
    [InlineData("""{"input": "Q Step 1: a ки ки", "label": "Q Step 1: a + +"}""", "input", "step 2 is empty")]
    [InlineData("""{"prompt": "Q", "response_0": "a", "response_1": "b", "is_response_0_safe": true, "better_response_id": 0, "safer_response_id": 1}""", "is_response_1_safe", "missing (a PKU-SafeRLHF record needs \"prompt\", \"response_0\", \"response_1\", \"is_response_0_safe\", \"is_response_1_safe\", \"better_response_id\" and \"safer_response_id\")")]
    [InlineData("""{"prompt": "Q", "response_0": "a", "response_1": "b", "is_response_0_safe": true, "is_response_1_safe": "no", "better_response_id": 0, "safer_response_id": 1}""", "is_response_1_safe", "expected a boolean, got string")]
    [InlineData("""{"prompt": "Q", "response_0": "a", "response_1": "b", "is_response_0_safe": true, "is_response_1_safe": false, "better_response_id": 2, "safer_response_id": 1}""", "better_response_id", "expected 0 or 1, the index of a response, got 2")]
    [InlineData("""{"prompt": "Q", "response": "A", "is_safe": null}""", "is_safe", "expected a boolean, got null")]
    [InlineData("""{"prompt": "Q", "response": "A", "helpfulness": "high"}""", null, "a ratings record has no numeric attribute; name them in DatasetReadOptions.RatingAttributes")]
    public void FieldErrorsNameTheFieldPath(string line, string? field, string detail)
    {
        string path = Files.Write("data.jsonl", line);
        var error = ReadFails(path);
        Assert.Equal(field is null ? $"{path}:1: {detail}" : $"{path}:1: field \"{field}\": {detail}", error.Message);
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public void LinesThatAreNotObjectsOrFitNoFormatAreErrors()
    {
        Assert.Equal($"{Files.PathOf("a.jsonl")}:1: expected a JSON object, got list", ReadFails(Files.Write("a.jsonl", "[1, 2]")).Message);
        Assert.Equal($"{Files.PathOf("b.jsonl")}:1: no known format has the keys \"question\", \"id\"; set DatasetReadOptions.Format",
            ReadFails(Files.Write("b.jsonl", """{"question": "Q", "id": 4}""")).Message);
    }

    [Fact]
    public void SkipInvalidCountsEverySkippedLineByReason()
    {
        string path = Files.Write("prefs.jsonl",
            "{not json",
            Valid,
            "",
            """{"prompt": "Q", "chosen": "good"}""",
            "   ",
            """{"prompt": "Q", "chosen": 1, "rejected": "bad"}""",
            Valid,
            """{"prompt": "Q", "chosen": "good", "rejected": "bad",}""",
            Valid);
        var reader = new JsonlDatasetReader(path, new DatasetReadOptions { SkipInvalid = true });
        var examples = reader.Read().ToList();
        var report = reader.Report;
        Assert.Equal([2, 7, 9], examples.Select(e => e.Line));
        Assert.Equal((9, 2, 3, 4), (report.Lines, report.BlankLines, report.Records, report.SkippedTotal));
        Assert.Equal(2, report.Skipped[DatasetErrorReason.MalformedJson]);
        Assert.Equal(1, report.Skipped[DatasetErrorReason.MissingField]);
        Assert.Equal(1, report.Skipped[DatasetErrorReason.WrongType]);
        Assert.StartsWith($"{path}:1: malformed JSON", report.FirstErrors[DatasetErrorReason.MalformedJson]);
        Assert.Equal($"{path}: Preference (Standard), 3 records from 9 lines; 2 blank; skipped 4 (MalformedJson 2, MissingField 1, WrongType 1)", report.ToString());
    }

    [Fact]
    public void BytesThatAreNotUtf8AreRefusedNamingTheLineNeverReplaced()
    {
        // A StreamReader would hand the parser U+FFFD in place of the bad byte, and the record would train as if valid.
        string path = Files.PathOf("latin1.jsonl");
        File.WriteAllBytes(path, [.. System.Text.Encoding.UTF8.GetBytes(Valid + "\n{\"prompt\": \"caf"), 0xE9, .. System.Text.Encoding.UTF8.GetBytes("\", \"chosen\": \"a\", \"rejected\": \"b\"}\n")]);
        var error = ReadFails(path);
        Assert.Equal((DatasetErrorReason.InvalidText, 2), (error.Reason, error.LineNumber));
        Assert.StartsWith($"{path}:2: not valid UTF-8 at byte 16", error.Message);

        var reader = new JsonlDatasetReader(path, new DatasetReadOptions { SkipInvalid = true });
        Assert.Single(reader.Read().ToList());
        Assert.Equal(1, reader.Report.Skipped[DatasetErrorReason.InvalidText]);
    }

    [Fact]
    public void ALoneSurrogateEscapeIsInvalidTextNamingTheField()
    {
        string path = Files.Write("surrogate.jsonl", Valid, """{"prompt": "Q", "chosen": "a\ud800b", "rejected": "bad"}""", """{"prompt": "Q", "chosen": "a", "rejected": "b", "x\udc00": 1}""");
        var error = ReadFails(path);
        Assert.Equal((DatasetErrorReason.InvalidText, 2, "chosen"), (error.Reason, error.LineNumber, error.Field));
        Assert.Contains("lone surrogate", error.Message);

        var reader = new JsonlDatasetReader(path, new DatasetReadOptions { SkipInvalid = true });
        Assert.Single(reader.Read().ToList());
        Assert.Equal(2, reader.Report.Skipped[DatasetErrorReason.InvalidText]);
    }

    [Fact]
    public void AByteOrderMarkAndCrLfLineEndsStillRead()
    {
        string path = Files.PathOf("bom.jsonl");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(Valid + "\r\n" + Valid + "\r\n")]);
        Assert.Equal(2, JsonlDatasetReader.Load<PreferenceExample>(path).Examples.Count);
    }

    [Fact]
    public void WithoutSkipInvalidTheFirstBadLineStopsTheRead()
    {
        string path = Files.Write("prefs.jsonl", Valid, "{not json", Valid);
        var reader = new JsonlDatasetReader(path);
        var seen = new List<Example>();
        Assert.Throws<DatasetException>(() => { foreach (var example in reader.Read()) seen.Add(example); });
        Assert.Single(seen);
    }

    [Fact]
    public void AnEmptyDatasetIsAnErrorThatSaysSo()
    {
        string blank = Files.Write("blank.jsonl", "", "  ", "");
        var error = ReadFails(blank);
        Assert.Equal($"{blank}: the dataset is empty: no record in 3 lines (3 blank, 0 invalid)", error.Message);
        Assert.Equal((DatasetErrorReason.EmptyDataset, (int?)null), (error.Reason, error.LineNumber));

        string allBad = Files.Write("bad.jsonl", "{", "", "[]");
        Assert.Equal($"{allBad}: the dataset is empty: no record in 3 lines (1 blank, 2 invalid)",
            ReadFails(allBad, new DatasetReadOptions { SkipInvalid = true }).Message);

        File.WriteAllText(Files.PathOf("zero.jsonl"), "");
        Assert.Equal(DatasetErrorReason.EmptyDataset, ReadFails(Files.PathOf("zero.jsonl")).Reason);
    }

    [Fact]
    public void SkippedFirstLinesDoNotFixTheFormat()
    {
        // The first object fits no format; detection waits for the first valid record.
        string path = Files.Write("pc.jsonl", """{"unrelated": 1}""", """{"prompt": "a", "completion": "b"}""");
        var reader = new JsonlDatasetReader(path, new DatasetReadOptions { SkipInvalid = true });
        Assert.IsType<PromptCompletionExample>(Assert.Single(reader.Read()));
        Assert.Equal(1, reader.Report.Skipped[DatasetErrorReason.UnknownFormat]);
    }
}
