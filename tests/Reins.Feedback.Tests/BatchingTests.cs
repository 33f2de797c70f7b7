using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;

namespace Reins.Feedback.Tests;

public sealed class BatchingTests
{
    private const int P = ByteEncoder.Pad, X = TokenizedSequence.IgnoreIndex;
    private static readonly BatchCollator RightPadded = new(PaddingOptions.For(new ByteEncoder()));

    private static TokenizedSequence Sequence(int[] ids, int[] labels) => new(ids, labels);

    [Fact]
    public void SftRowsArePaddedOnTheRightWithMaskedLabels()
    {
        var batch = RightPadded.Sft([Sequence([1, 2, 3], [X, 2, 3]), Sequence([4, 5], [X, 5])]).Tokens;
        Assert.Equal((2, 3), (batch.Rows, batch.Length));
        Assert.Equal([1, 2, 3, 4, 5, P], batch.InputIds);
        Assert.Equal([1f, 1, 1, 1, 1, 0], batch.AttentionMask);
        Assert.Equal([X, 2, 3, X, 5, X], batch.Labels);
        Assert.Equal([2, 3, X, 5, X, X], batch.NextTokenTargets());
        Assert.Equal((2, 1), (batch.LastTokenIndex(0), batch.LastTokenIndex(1)));
    }

    [Fact]
    public void LeftPaddingAndPadToMultipleOf()
    {
        var collator = new BatchCollator(new PaddingOptions(P) { Side = PaddingSide.Left, PadToMultipleOf = 4 });
        var batch = collator.Sft([Sequence([1, 2, 3], [1, 2, 3]), Sequence([4, 5], [4, 5])]).Tokens;
        Assert.Equal(4, batch.Length);
        Assert.Equal([P, 1, 2, 3, P, P, 4, 5], batch.InputIds);
        Assert.Equal([0f, 1, 1, 1, 0, 0, 1, 1], batch.AttentionMask);
        Assert.Equal([X, 1, 2, 3, X, X, 4, 5], batch.Labels);
        Assert.Equal((3, 3), (batch.LastTokenIndex(0), batch.LastTokenIndex(1)));
    }

    [Fact]
    public void PreferenceBatchesPutAllChosenRowsBeforeAllRejectedRows()
    {
        var tokenizer = new DatasetTokenizer(new ByteEncoder());
        var pairs = new[] { ("Q", "a", "bb"), ("R", "ccc", "d") }
            .Select(p => tokenizer.Preference(new PreferenceExample(TextOrConversation.FromText(p.Item1), TextOrConversation.FromText(p.Item2), TextOrConversation.FromText(p.Item3)))!)
            .ToArray();
        var batch = RightPadded.Preference(pairs);
        Assert.Equal((2, 4, 6), (batch.Pairs, batch.Tokens.Rows, batch.Tokens.Length));
        string Row(int r) => ByteEncoder.Decode(batch.Tokens.InputIds.AsSpan(r * 6, 6).ToArray());
        Assert.Equal("<bos>Qa<eos><pad><pad>", Row(batch.ChosenRow(0)));
        Assert.Equal("<bos>Rccc<eos>", Row(batch.ChosenRow(1)));
        Assert.Equal("<bos>Qbb<eos><pad>", Row(batch.RejectedRow(0)));
        Assert.Equal("<bos>Rd<eos><pad><pad>", Row(batch.RejectedRow(1)));
        Assert.Equal("__bb<eos>_", ByteEncoder.Decode(batch.Tokens.Labels.AsSpan(batch.RejectedRow(0) * 6, 6).ToArray()));
    }

    [Fact]
    public void UnpairedAndRatingBatchesKeepTheirTargetsInRowOrder()
    {
        var unpaired = RightPadded.Unpaired([new(Sequence([1, 2], [X, 2]), true), new(Sequence([3], [3]), false)]);
        Assert.Equal([true, false], unpaired.Desirable);
        Assert.Equal([X, 2, 3, X], unpaired.Tokens.Labels);

        string[] attributes = ["helpfulness", "verbosity"];
        var ratings = RightPadded.Ratings([new(Sequence([1, 2], [X, 2]), attributes, [3, 1]), new(Sequence([3], [3]), attributes, [4, 0])]);
        Assert.Equal(attributes, ratings.Attributes);
        Assert.Equal([3f, 1, 4, 0], ratings.Targets);
        Assert.Throws<ArgumentException>(() => RightPadded.Ratings([new(Sequence([1], [1]), attributes, [3, 1]), new(Sequence([1], [1]), ["other"], [1])]));
    }

    [Fact]
    public void PromptBatchesAreLeftPaddedAndCarryTheRecords()
    {
        var reader = new DatasetTokenizer(new ByteEncoder());
        var records = new[]
        {
            new PromptOnlyExample(TextOrConversation.FromText("abc")) { Extra = new Dictionary<string, System.Text.Json.JsonElement> { ["answer"] = System.Text.Json.JsonSerializer.SerializeToElement(7) } },
            new PromptOnlyExample(TextOrConversation.FromText("d")),
        };
        var batch = RightPadded.Prompts(records.Select(r => reader.Prompt(r)!).ToArray());
        Assert.Equal(4, batch.Length);
        Assert.Equal("<bos>abc<pad><pad><bos>d", ByteEncoder.Decode(batch.InputIds));
        Assert.Equal([1f, 1, 1, 1, 0, 0, 1, 1], batch.AttentionMask);
        Assert.Equal(7, batch.Extra[0]["answer"].GetInt32());
        Assert.Empty(batch.Extra[1]);
        Assert.Same(records[1], batch.Sources[1]);
    }

    [Fact]
    public void EmptyBatchesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => RightPadded.Sft([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchCollator(new PaddingOptions(0) { PadToMultipleOf = 0 }));
    }
}
