using Reins.Models.Tokenizers;

namespace Reins.Models.Tests.Tokenizers;

/// <summary>The Split pre-tokenizer's delimiter behaviours, on the example documented for the Rust crate's SplitDelimiterBehavior.</summary>
public class SplitBehaviorTests
{
    [Theory]
    [InlineData(SplitBehavior.Removed, "the|final|countdown")]
    [InlineData(SplitBehavior.Isolated, "the|-|final|-|-|countdown")]
    [InlineData(SplitBehavior.MergedWithPrevious, "the-|final-|-|countdown")]
    [InlineData(SplitBehavior.MergedWithNext, "the|-final|-|-countdown")]
    [InlineData(SplitBehavior.Contiguous, "the|-|final|--|countdown")]
    internal void Delimiters_are_treated_as_documented(SplitBehavior behavior, string expected)
    {
        var output = new PieceBuffer();
        new SplitPreTokenizer(SplitPattern.FromLiteral("-"), behavior, invert: false).Apply("the-final--countdown", atStart: true, output);
        Assert.Equal(expected, string.Join("|", Enumerable.Range(0, output.Count).Select(i => output[i].ToString())));
    }
}
