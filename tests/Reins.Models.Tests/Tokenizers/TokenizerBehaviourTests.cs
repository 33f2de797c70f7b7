using Reins.Models.Tokenizers;

namespace Reins.Models.Tests.Tokenizers;

/// <summary>Streaming decode, special tokens, the byte-level tokenizer, training and configuration.</summary>
public class TokenizerBehaviourTests
{
    private const string HardText = "Mixed 😀 👨‍👩‍👧 中文 𝔘𝔫𝔦 𠮷 é and <|im_end|> text\n";

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    [InlineData("llama2")]
    [InlineData("bytelevel")]
    public void Streaming_decode_emits_only_complete_text_and_adds_up_to_the_full_decode(string name)
    {
        var tokenizer = TokenizerFixtures.Load(name);
        var ids = tokenizer.Encode(HardText, addSpecialTokens: true);
        var stream = tokenizer.CreateStreamingDecoder();
        var emitted = new System.Text.StringBuilder();
        foreach (int id in ids)
        {
            var piece = stream.Push(id);
            Assert.DoesNotContain('\uFFFD', piece);
            Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), "a surrogate pair was split");
            emitted.Append(piece);
        }
        emitted.Append(stream.Flush());
        Assert.Equal(tokenizer.Decode(ids), emitted.ToString());
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    [InlineData("bytelevel")]
    public void Token_bytes_of_a_byte_level_encoding_add_up_to_the_texts_utf8_even_where_a_token_splits_a_character(string name)
    {
        var tokenizer = TokenizerFixtures.Load(name);
        const string text = "Mixed 😀 👨‍👩‍👧 中文 𝔘𝔫𝔦 𠮷 é text";
        var ids = tokenizer.Encode(text);
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(text), ids.SelectMany(tokenizer.TokenBytes).ToArray());
        // At least one token holds part of a character: its text is U+FFFD, its bytes are its own.
        Assert.Contains(ids, id => tokenizer.Decode([id]).Contains('\uFFFD') && !tokenizer.TokenBytes(id).SequenceEqual(System.Text.Encoding.UTF8.GetBytes("\uFFFD")));
    }

    [Fact]
    public void Token_bytes_of_a_byte_fallback_token_are_its_byte()
    {
        var tokenizer = TokenizerFixtures.Load("llama2");
        var ids = tokenizer.Encode("𠮷", addSpecialTokens: false);
        var bytes = ids.Select(tokenizer.TokenBytes).Where(b => b.Length == 1 && b[0] >= 0x80).SelectMany(b => b).ToArray();
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes("𠮷"), bytes);
        // Any other token's bytes are those of its text.
        int hello = tokenizer.Encode("hello", addSpecialTokens: false)[^1];
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(tokenizer.Decode([hello])), tokenizer.TokenBytes(hello));
    }

    [Fact]
    public void Streaming_holds_a_four_byte_character_until_its_last_byte()
    {
        var tokenizer = Tokenizer.CreateByteLevel(259);
        var ids = tokenizer.Encode("😀!");
        Assert.Equal([0xF0, 0x9F, 0x98, 0x80, '!'], ids);
        var stream = tokenizer.CreateStreamingDecoder();
        Assert.Equal(["", "", "", "😀", "!"], ids.Select(stream.Push));
    }

    [Fact]
    public void Flush_returns_bytes_that_never_completed_as_replacement_characters()
    {
        var stream = Tokenizer.CreateByteLevel(259).CreateStreamingDecoder();
        Assert.Equal("", stream.Push(0xE4));
        Assert.Equal("\uFFFD", stream.Flush());
    }

    [Fact]
    public void Special_tokens_in_text_are_never_split_and_can_be_skipped_when_decoding()
    {
        var tokenizer = TokenizerFixtures.Load("qwen3");
        int imEnd = tokenizer.TokenToId("<|im_end|>")!.Value;
        var ids = tokenizer.Encode("before<|im_end|>after<|im_end|>");
        Assert.Equal(2, ids.Count(id => id == imEnd));
        Assert.True(tokenizer.IsSpecial(imEnd));
        Assert.Equal("beforeafter", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("before<|im_end|>after<|im_end|>", tokenizer.Decode(ids));
    }

    [Fact]
    public void Encoding_from_many_threads_gives_the_sequential_ids()
    {
        // The pre-token cache is shared and the scratch buffers are per thread; neither may leak between calls.
        var tokenizer = TokenizerFixtures.Load("llama3");
        var texts = TokenizerFixtures.Cases("llama3").Select(c => c.Text).ToArray();
        var expected = TokenizerFixtures.Cases("llama3").Select(c => c.Ids).ToArray();
        var actual = new int[texts.Length * 8][];
        Parallel.For(0, actual.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => actual[i] = tokenizer.Encode(texts[i % texts.Length]));
        for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[i % texts.Length], actual[i]);
    }

    [Fact]
    public void Token_names_come_from_tokenizer_config()
    {
        var qwen = TokenizerFixtures.Load("qwen3");
        Assert.Null(qwen.BosId);
        Assert.Equal(qwen.TokenToId("<|im_end|>"), qwen.EosId);
        Assert.Equal(qwen.TokenToId("<|endoftext|>"), qwen.PadId);
        var llama = TokenizerFixtures.Load("llama3");
        Assert.Equal(128000, llama.BosId);
        Assert.Equal("<|end_of_text|>", llama.IdToToken(llama.EosId!.Value));
        // GPT-2's vocab.json + merges.txt come without a config; <|endoftext|> is its BOS and EOS.
        var gpt2 = TokenizerFixtures.Load("gpt2");
        Assert.Equal(50256, gpt2.BosId);
        Assert.Equal(50256, gpt2.EosId);
        Assert.Equal(50257, gpt2.VocabSize);
    }

    [Fact]
    public void Byte_level_tokenizer_round_trips_any_text_and_has_distinct_specials()
    {
        var tokenizer = Tokenizer.CreateByteLevel(300);
        Assert.Equal(300, tokenizer.VocabSize);
        Assert.Equal((256, 257, 258), (tokenizer.BosId, tokenizer.EosId, tokenizer.PadId));
        Assert.Equal("<|unused_40|>", tokenizer.IdToToken(299));
        Assert.Equal([256, 'h', 'i'], tokenizer.Encode("hi", addSpecialTokens: true));
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(HardText).Select(b => (int)b), tokenizer.Encode(HardText));
        Assert.Equal(HardText, tokenizer.Decode(tokenizer.Encode(HardText)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.CreateByteLevel(258));
    }

    [Fact]
    public void Saved_tokenizer_loads_back_with_the_same_ids_and_names()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"reins-save-{Guid.NewGuid():N}");
        try
        {
            var original = Tokenizer.CreateByteLevel(262);
            original.Save(directory);
            var loaded = Tokenizer.Load(directory);
            Assert.Equal((original.BosId, original.EosId, original.PadId), (loaded.BosId, loaded.EosId, loaded.PadId));
            Assert.Equal(original.Encode(HardText, true), loaded.Encode(HardText, true));
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [Fact]
    public void Training_is_deterministic_and_reproduces_the_committed_fixture()
    {
        var corpus = File.ReadAllLines(Fixtures.PathOf("tokenizers/trained/corpus.txt"));
        string[] specials = ["<|endoftext|>", "<|pad|>"];
        var directory = Path.Combine(Path.GetTempPath(), $"reins-train-{Guid.NewGuid():N}");
        try
        {
            Tokenizer.TrainByteLevelBpe(corpus, 600, specials).Save(directory);
            var first = File.ReadAllBytes(Path.Combine(directory, "tokenizer.json"));
            Tokenizer.TrainByteLevelBpe(corpus, 600, specials).Save(directory);
            Assert.Equal(first, File.ReadAllBytes(Path.Combine(directory, "tokenizer.json")));
            // The fixture file is the one @huggingface/tokenizers was run on (ReferenceTokenizerTests "trained").
            Assert.Equal(File.ReadAllBytes(Fixtures.PathOf("tokenizers/trained/tokenizer.json")), first);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [Fact]
    public void Training_learns_frequent_words_first_and_stops_at_the_vocabulary_size()
    {
        var corpus = Enumerable.Repeat("low lower lowest newer newest", 50).Append("rare zebra");
        var tokenizer = Tokenizer.TrainByteLevelBpe(corpus, 270, ["<|endoftext|>"]);
        Assert.Equal(270, tokenizer.VocabSize);
        Assert.Equal(256, tokenizer.TokenToId("<|endoftext|>"));
        // "we" occurs in all four of lower, lowest, newer and newest (200 times); no other pair is as common.
        Assert.Equal(257, tokenizer.TokenToId("we"));
        Assert.Null(tokenizer.TokenToId("Ġzebra"));
        Assert.True(tokenizer.Encode(" lowest").Length < tokenizer.Encode(" zebra").Length);
    }

    [Fact]
    public void Pre_tokenizer_scanner_reads_astral_letters_as_letters()
    {
        var scanner = CodePointPatternScanner.Recognize(CodePointPatternScanner.Llama3Pattern)!;
        // " 𝔘𝔫𝔦" is one word (a space then three letters outside the BMP), then "123" then "4".
        const string text = " 𝔘𝔫𝔦1234";
        Assert.Equal(7, scanner.MatchLength(text, 0));
        Assert.Equal(3, scanner.MatchLength(text, 7));
        Assert.Equal(1, scanner.MatchLength(text, 10));
    }
}
