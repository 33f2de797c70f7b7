using Reins.Models.Tokenizers;

namespace Reins.Models.Tests.Tokenizers;

/// <summary>
/// The Split pre-tokenizer: delimiter behaviours on the example documented for the Rust crate's
/// SplitDelimiterBehavior, and regexes other than the scanned GPT-2/Llama-3/Qwen2 patterns (.NET's engine).
/// </summary>
public class SplitPreTokenizerTests
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

    [Fact]
    public void Other_regexes_split_with_the_dotnet_engine()
    {
        var output = new PieceBuffer();
        new SplitPreTokenizer(SplitPattern.FromRegex(@"\d+"), SplitBehavior.Isolated, invert: false).Apply("ab12cd345", atStart: true, output);
        Assert.Equal("ab|12|cd|345", string.Join("|", Enumerable.Range(0, output.Count).Select(i => output[i].ToString())));
    }

    [Fact]
    public void A_regex_dotnet_cannot_compile_names_the_field()
    {
        var json = """{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a(?<"}, "behavior": "Isolated"}, "model": {"vocab": {}}}""";
        var e = Assert.Throws<InvalidDataException>(() => Tokenizer.FromJson(System.Text.Encoding.UTF8.GetBytes(json), "t.json"));
        Assert.StartsWith("t.json: pre_tokenizer.pattern.Regex: regex not supported", e.Message);
    }
}
