using Reins.Models.Chat;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;

namespace Reins.Feedback.Tests;

public sealed class TokenizationTests
{
    private static readonly ByteEncoder Encoder = new();

    private static TextOrConversation Text(string text) => TextOrConversation.FromText(text);
    private static TextOrConversation Chat(params ChatMessage[] messages) => TextOrConversation.FromMessages(messages);
    private static ChatMessage User(string content) => new("user", content);
    private static ChatMessage Assistant(string content) => new("assistant", content);

    private static (string Ids, string Labels) Show(TokenizedSequence sequence) => (ByteEncoder.Decode(sequence.InputIds), ByteEncoder.Decode(sequence.Labels));

    /// <summary>Where a label is set it is the token at that position: the invariant every loss relies on.</summary>
    private static void AssertLabelsAlign(TokenizedSequence sequence)
    {
        Assert.Equal(sequence.InputIds.Length, sequence.Labels.Length);
        for (int t = 0; t < sequence.Length; t++)
            if (sequence.Labels[t] != TokenizedSequence.IgnoreIndex) Assert.Equal(sequence.InputIds[t], sequence.Labels[t]);
    }

    [Fact]
    public void PromptCompletionMasksThePromptAndLearnsTheEos()
    {
        var sequence = new DatasetTokenizer(Encoder).Sft(new PromptCompletionExample(Text("ab"), Text("cd")))!;
        Assert.Equal(("<bos>abcd<eos>", "___cd<eos>"), Show(sequence));
        AssertLabelsAlign(sequence);
    }

    [Fact]
    public void CompletionOnlyLossOffTrainsOnEverything()
    {
        var sequence = new DatasetTokenizer(Encoder, new TokenizationOptions { CompletionOnlyLoss = false }).Sft(new PromptCompletionExample(Text("ab"), Text("cd")))!;
        Assert.Equal(sequence.InputIds, sequence.Labels);
    }

    [Fact]
    public void BosAndEosCanBeTurnedOff()
    {
        var tokenizer = new DatasetTokenizer(Encoder, new TokenizationOptions { AddBos = false, AppendEos = false });
        Assert.Equal(("abc", "abc"), Show(tokenizer.Sft(new LanguageModelingExample(Text("abc")))!));
        Assert.Equal(("<bos>abc<eos>", "<bos>abc<eos>"), Show(new DatasetTokenizer(Encoder).Sft(new LanguageModelingExample(Text("abc")))!));
    }

    [Fact]
    public void MaxPromptLengthKeepsThePromptsEnd()
    {
        var tokenizer = new DatasetTokenizer(Encoder, new TokenizationOptions { MaxPromptLength = 3 });
        var sequence = tokenizer.Sft(new PromptCompletionExample(Text("abcdef"), Text("xy")))!;
        Assert.Equal(("defxy<eos>", "___xy<eos>"), Show(sequence));
        Assert.Equal((1, 1, 0), (tokenizer.Report.PromptsTooLong, tokenizer.Report.PromptsTruncated, tokenizer.Report.Dropped));
    }

    [Fact]
    public void MaxCompletionLengthKeepsTheCompletionsStart()
    {
        var tokenizer = new DatasetTokenizer(Encoder, new TokenizationOptions { MaxCompletionLength = 3 });
        var sequence = tokenizer.Sft(new PromptCompletionExample(Text("ab"), Text("uvwxyz")))!;
        Assert.Equal(("<bos>abuvw", "___uvw"), Show(sequence));
        Assert.Equal(1, tokenizer.Report.CompletionsTruncated);
    }

    [Theory]
    [InlineData(TruncationMode.KeepStart, "<bos>abcde", "___cde")]
    [InlineData(TruncationMode.KeepEnd, "bcdef<eos>", "_cdef<eos>")]
    public void MaxLengthTruncatesTheChosenEnd(TruncationMode mode, string ids, string labels)
    {
        var tokenizer = new DatasetTokenizer(Encoder, new TokenizationOptions { MaxLength = 6, TruncationMode = mode });
        var sequence = tokenizer.Sft(new PromptCompletionExample(Text("ab"), Text("cdef")))!;
        Assert.Equal((ids, labels), Show(sequence));
        Assert.Equal(1, tokenizer.Report.SequencesTruncated);
        AssertLabelsAlign(sequence);
    }

    [Fact]
    public void LongPromptsAreCountedAndOptionallyDropped()
    {
        var examples = new[] { ("abcdefgh", "x"), ("ab", "x"), ("abcdefghij", "x") }.Select(p => new PromptCompletionExample(Text(p.Item1), Text(p.Item2))).ToArray();

        var keeping = new DatasetTokenizer(Encoder, new TokenizationOptions { MaxLength = 8 });
        var kept = examples.Select(keeping.Sft).ToArray();
        Assert.All(kept, Assert.NotNull);
        // A prompt of 9 or 11 tokens leaves no room for a completion under max_length 8: counted, then truncated.
        Assert.Equal((3, 2, 0, 2), (keeping.Report.Records, keeping.Report.PromptsTooLong, keeping.Report.Dropped, keeping.Report.SequencesTruncated));
        Assert.Equal(2, keeping.Report.WithoutLossTokens);

        var dropping = new DatasetTokenizer(Encoder, new TokenizationOptions { MaxLength = 8, DropLongPrompts = true });
        var survivors = examples.Select(dropping.Sft).ToArray();
        Assert.Equal([false, true, false], survivors.Select(s => s is not null));
        Assert.Equal((3, 2, 2), (dropping.Report.Records, dropping.Report.PromptsTooLong, dropping.Report.Dropped));
    }

    [Fact]
    public void ConversationsUseTheTemplateAndOptionallyTrainOnAssistantTurnsOnly()
    {
        var conversation = new LanguageModelingExample(Chat(User("hi"), Assistant("yo"), User("ok?"), Assistant("ok")));
        var everything = new DatasetTokenizer(Encoder).Sft(conversation)!;
        Assert.Equal("<bos><user>hi<eos><assistant>yo<eos><user>ok?<eos><assistant>ok<eos>", ByteEncoder.Decode(everything.InputIds));
        Assert.Equal(everything.InputIds, everything.Labels);

        var assistantOnly = new DatasetTokenizer(Encoder, new TokenizationOptions { AssistantOnlyLoss = true }).Sft(conversation)!;
        Assert.Equal(everything.InputIds, assistantOnly.InputIds);
        Assert.Equal("______yo<eos>______ok<eos>", ByteEncoder.Decode(assistantOnly.Labels));
        AssertLabelsAlign(assistantOnly);
    }

    [Fact]
    public void ConversationalCompletionsAreCutFromTheWholeRenderingWithoutAnExtraEos()
    {
        var tokenizer = new DatasetTokenizer(Encoder);
        var sequence = tokenizer.Sft(new PromptCompletionExample(Chat(User("hi")), Chat(Assistant("yo"))))!;
        Assert.Equal(("<bos><user>hi<eos><assistant>yo<eos>", "______yo<eos>"), Show(sequence));
        Assert.Equal(0, tokenizer.Report.TemplatePrefixMismatches);
    }

    [Fact]
    public void TemplatesThatRenderTheGenerationPromptDifferentlyAreCounted()
    {
        var tokenizer = new DatasetTokenizer(new ByteEncoder { ThinkingGenerationPrompt = true });
        var sequence = tokenizer.Sft(new PromptCompletionExample(Chat(User("hi")), Chat(Assistant("yo"))))!;
        // The boundary falls at the longest common prefix, so nothing is lost or duplicated.
        Assert.Equal(("<bos><user>hi<eos><assistant>yo<eos>", "______yo<eos>"), Show(sequence));
        Assert.Equal(1, tokenizer.Report.TemplatePrefixMismatches);
    }

    [Fact]
    public void PreferencePairsShareThePromptAndLabelOnlyTheirCompletions()
    {
        var tokenizer = new DatasetTokenizer(Encoder);
        var pair = tokenizer.Preference(new PreferenceExample(Text("Q:"), Text(" yes"), Text(" no")))!;
        Assert.Equal(("<bos>Q: yes<eos>", "___ yes<eos>"), Show(pair.Chosen));
        Assert.Equal(("<bos>Q: no<eos>", "___ no<eos>"), Show(pair.Rejected));
        Assert.Equal(1, tokenizer.Report.Records);

        var chat = tokenizer.Preference(new PreferenceExample(Chat(User("Q")), Chat(Assistant("yes")), Chat(Assistant("no"))))!;
        Assert.Equal(("<bos><user>Q<eos><assistant>yes<eos>", "_____yes<eos>"), Show(chat.Chosen));
        Assert.Equal(("<bos><user>Q<eos><assistant>no<eos>", "_____no<eos>"), Show(chat.Rejected));
    }

    [Fact]
    public void PreferenceWithDpoTruncationKeepsTheCompletionsEnd()
    {
        var tokenizer = new DatasetTokenizer(Encoder, new TokenizationOptions { MaxPromptLength = 4, MaxCompletionLength = 3, MaxLength = 5, TruncationMode = TruncationMode.KeepEnd });
        var pair = tokenizer.Preference(new PreferenceExample(Text("123456"), Text("abcd"), Text("x")))!;
        // Prompt → "3456", chosen → "abc" (the EOS is cut with "d"), then the last 5 tokens of "3456abc"; both sequences exceed 5.
        Assert.Equal(("56abc", "__abc"), Show(pair.Chosen));
        Assert.Equal(("456x<eos>", "___x<eos>"), Show(pair.Rejected));
        Assert.Equal((1, 1, 1, 2), (tokenizer.Report.PromptsTooLong, tokenizer.Report.PromptsTruncated, tokenizer.Report.CompletionsTruncated, tokenizer.Report.SequencesTruncated));
    }

    [Fact]
    public void UnpairedAndRatingRecordsCarryTheirTargets()
    {
        var tokenizer = new DatasetTokenizer(Encoder);
        var unpaired = tokenizer.Unpaired(new UnpairedPreferenceExample(Text("Q"), Text("A"), Label: false))!;
        Assert.False(unpaired.Desirable);
        Assert.Equal(("<bos>QA<eos>", "__A<eos>"), Show(unpaired.Sequence));

        var rating = tokenizer.Rating(new RatingExample(Text("Q"), Text("A"), ["helpfulness", "verbosity"], [3, 0.5]))!;
        Assert.Equal([3f, 0.5f], rating.Targets);
        Assert.Equal(["helpfulness", "verbosity"], rating.Attributes);
    }

    [Fact]
    public void PromptsForGenerationEndWithTheAssistantHeaderAndKeepTheirEnd()
    {
        var tokenizer = new DatasetTokenizer(Encoder, new TokenizationOptions { MaxPromptLength = 6, MaxLength = 2 });
        var chat = tokenizer.Prompt(new PromptOnlyExample(Chat(User("hi"))))!;
        Assert.Equal("<bos><user>hi<eos><assistant>", ByteEncoder.Decode(chat.InputIds));
        var text = tokenizer.Prompt(new PromptOnlyExample(Text("abcdefgh")))!;
        Assert.Equal("cdefgh", ByteEncoder.Decode(text.InputIds));
        Assert.Equal((1, 1), (tokenizer.Report.PromptsTooLong, tokenizer.Report.PromptsTruncated));
    }

    [Fact]
    public void StepwiseLabelsSitOnEachStepsLastToken()
    {
        var sequence = new DatasetTokenizer(Encoder).Stepwise(new StepwiseExample("Q", ["ab", "c"], [true, false]))!;
        Assert.Equal("<bos>Q\nab\nc\n", ByteEncoder.Decode(sequence.InputIds));
        Assert.Equal([-100, -100, -100, -100, -100, 1, -100, 0], sequence.Labels);
        var last = new DatasetTokenizer(Encoder).Stepwise(new StepwiseExample("Q", ["ab", "c"], [true, false]), "\n", lastStepOnly: true)!;
        Assert.Equal([-100, -100, -100, -100, -100, -100, -100, 0], last.Labels);
    }

    [Fact]
    public void InvalidOptionsAndRecordsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DatasetTokenizer(Encoder, new TokenizationOptions { MaxLength = 0 }));
        var tokenizer = new DatasetTokenizer(Encoder);
        Assert.Throws<ArgumentException>(() => tokenizer.Sft(new PromptOnlyExample(Text("Q"))));
        Assert.Throws<ArgumentException>(() => tokenizer.Sft(new PromptCompletionExample(Chat(User("Q")), Text("A"))));
    }
}
