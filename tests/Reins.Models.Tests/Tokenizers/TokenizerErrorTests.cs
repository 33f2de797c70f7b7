using Reins.Models.Tokenizers;

namespace Reins.Models.Tests.Tokenizers;

/// <summary>Errors name the file and the line or field at fault.</summary>
public class TokenizerErrorTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"reins-errors-{Guid.NewGuid():N}");

    public TokenizerErrorTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Missing_path_is_named()
    {
        var missing = Path.Combine(_directory, "nope");
        var e = Assert.Throws<FileNotFoundException>(() => Tokenizer.Load(missing));
        Assert.Contains(missing, e.Message);
        var empty = Assert.Throws<FileNotFoundException>(() => Tokenizer.Load(_directory));
        Assert.Contains("tokenizer.json", empty.Message);
    }

    [Fact]
    public void Invalid_json_names_file_and_line()
    {
        var path = Write("tokenizer.json", "{\n  \"model\": {\n    \"vocab\": {\"a\": 0,,}\n  }\n}");
        var e = Assert.Throws<InvalidDataException>(() => Tokenizer.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("line 3", e.Message);
    }

    [Theory]
    [InlineData("{\"model\": {\"type\": \"BPE\"}}", "model: missing field \"vocab\"")]
    [InlineData("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "model.type: model type \"Unigram\" is not supported")]
    [InlineData("{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\", \"a c\"]}}", "model.merges[1]: merge of \"a\" and \"c\"")]
    [InlineData("{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}", "model.merges[0]: expected")]
    [InlineData("{\"model\": {\"vocab\": {\"a\": \"x\"}}}", "model.vocab: token \"a\" has id \"x\"")]
    [InlineData("{\"added_tokens\": [{\"content\": \"<s>\"}], \"model\": {\"vocab\": {}}}", "added_tokens[0]: missing field \"id\"")]
    [InlineData("{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Nope\"}]}, \"model\": {\"vocab\": {}}}", "pre_tokenizer.pretokenizers[0].type: pre-tokenizer \"Nope\" is not supported")]
    [InlineData("{\"normalizer\": {\"type\": \"Replace\", \"pattern\": {}, \"content\": \"x\"}, \"model\": {\"vocab\": {}}}", "normalizer.pattern: expected")]
    public void Malformed_tokenizer_json_names_file_and_field(string json, string expected)
    {
        var path = Write("tokenizer.json", json);
        var e = Assert.Throws<InvalidDataException>(() => Tokenizer.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Unknown_token_in_tokenizer_config_names_the_config_field()
    {
        Write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}}");
        var config = Write("tokenizer_config.json", "{\"eos_token\": \"</s>\"}");
        var e = Assert.Throws<InvalidDataException>(() => Tokenizer.Load(_directory));
        Assert.Contains($"{config}: eos_token: \"</s>\"", e.Message);
    }

    [Fact]
    public void Bad_merges_txt_line_is_named()
    {
        Write("vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}");
        var merges = Write("merges.txt", "#version: 0.2\na b\na b c\n");
        var e = Assert.Throws<InvalidDataException>(() => Tokenizer.Load(_directory));
        Assert.Contains($"{merges}: line 3", e.Message);
    }
}
