namespace Reins.Models.Tests.Tokenizers;

/// <summary>
/// Our ids and text against the reference implementations' (see tools/make_tokenizer_fixtures.mjs) on real
/// tokenizer files and on the files our trainer and CreateByteLevel write.
/// </summary>
public class ReferenceTokenizerTests
{
    public static TheoryData<string> Names => new() { "qwen3", "llama3", "llama2", "gpt2", "trained", "bytelevel", "llama2_metaspace", "qwen3_strip" };

    [Theory, MemberData(nameof(Names))]
    public void Ids_match_the_reference(string name)
    {
        var tokenizer = TokenizerFixtures.Load(name);
        var mismatches = new List<string>();
        foreach (var c in TokenizerFixtures.Cases(name))
        {
            var ids = tokenizer.Encode(c.Text);
            if (!ids.SequenceEqual(c.Ids)) mismatches.Add($"{Show(c.Text)}\n  ours [{string.Join(",", ids)}]\n  ref  [{string.Join(",", c.Ids)}]");
            var withSpecial = tokenizer.Encode(c.Text, addSpecialTokens: true);
            if (!withSpecial.SequenceEqual(c.IdsSpecial)) mismatches.Add($"{Show(c.Text)} (add special)\n  ours [{string.Join(",", withSpecial)}]\n  ref  [{string.Join(",", c.IdsSpecial)}]");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Theory, MemberData(nameof(Names))]
    public void Decoded_text_matches_the_reference(string name)
    {
        var tokenizer = TokenizerFixtures.Load(name);
        var mismatches = new List<string>();
        foreach (var c in TokenizerFixtures.Cases(name))
        {
            var decoded = tokenizer.Decode(c.Ids);
            if (decoded != c.Decoded) mismatches.Add($"{Show(c.Text)}: ours {Show(decoded)} ref {Show(c.Decoded)}");
            var skipped = tokenizer.Decode(c.IdsSpecial, skipSpecialTokens: true);
            if (skipped != c.DecodedSkipSpecial) mismatches.Add($"{Show(c.Text)} (skip special): ours {Show(skipped)} ref {Show(c.DecodedSkipSpecial)}");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Theory, MemberData(nameof(Names))]
    public void Decode_of_encode_gives_the_text_back_where_the_reference_does(string name)
    {
        var tokenizer = TokenizerFixtures.Load(name);
        var cases = TokenizerFixtures.Cases(name).Where(c => c.Decoded == c.Text).ToList();
        Assert.NotEmpty(cases);
        foreach (var c in cases) Assert.Equal(c.Text, tokenizer.Decode(tokenizer.Encode(c.Text)));
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
