using System.Text.Json;
using Reins.Models.Chat;

namespace Reins.Models.Tests.Tokenizers;

/// <summary>Our chat rendering against @huggingface/jinja applied to the real templates (tools/make_tokenizer_fixtures.mjs).</summary>
public class ChatFormatTests
{
    public sealed record ChatCase(ChatMessage[] Messages, bool AddGenerationPrompt, string Rendered, int[] Ids);

    private sealed record ChatFile(string? Template, List<ChatCase> Cases);

    private static ChatFile Read(string file) =>
        JsonSerializer.Deserialize<ChatFile>(File.ReadAllBytes(Fixtures.PathOf($"tokenizers/{file}")), new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!;

    [Theory]
    [InlineData("qwen3", "chatml")]
    [InlineData("llama3", "llama3")]
    public void Family_is_recognised_from_the_template(string tokenizer, string family) =>
        Assert.Equal(family, ChatFormat.For(TokenizerFixtures.Load(tokenizer)).Name);

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    public void Rendering_matches_the_real_template(string name)
    {
        var format = ChatFormat.For(TokenizerFixtures.Load(name));
        foreach (var c in Read($"{name}.chat.json").Cases)
            Assert.Equal(c.Rendered, format.Render(c.Messages, c.AddGenerationPrompt));
    }

    [Fact]
    public void Default_system_prompt_is_read_from_a_qwen25_style_template()
    {
        var file = Read("qwen25_style.chat.json");
        var format = ChatMlFormat.FromTemplate(file.Template);
        Assert.Equal("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", format.DefaultSystemPrompt);
        Assert.False(format.ThinkBlocks);
        foreach (var c in file.Cases) Assert.Equal(c.Rendered, format.Render(c.Messages, c.AddGenerationPrompt));
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    public void Ids_match_encoding_the_rendered_text_unless_a_reply_starts_with_whitespace(string name)
    {
        var tokenizer = TokenizerFixtures.Load(name);
        var format = ChatFormat.For(tokenizer);
        int compared = 0;
        foreach (var c in Read($"{name}.chat.json").Cases)
        {
            var encoding = format.Encode(tokenizer, c.Messages, c.AddGenerationPrompt);
            Assert.Equal(c.Rendered, tokenizer.Decode(encoding.Ids));
            // A reply starting with whitespace would share a token with the header's "\n" in a whole-string encoding;
            // we keep the reply's own tokens instead (see ChatFormat.Encode).
            if (format.Segments(c.Messages, c.AddGenerationPrompt).Any(s => s.IsAssistant && s.Text.Length > 0 && char.IsWhiteSpace(s.Text[0]))) continue;
            Assert.Equal(c.Ids, encoding.Ids);
            compared++;
        }
        Assert.True(compared >= 6, $"only {compared} conversations compared");
    }

    [Theory]
    [InlineData("qwen3", "<|im_start|>assistant\n", "<|im_end|>")]
    [InlineData("llama3", "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>")]
    public void Assistant_mask_covers_each_reply_and_its_end_token(string name, string header, string end)
    {
        var tokenizer = TokenizerFixtures.Load(name);
        var format = ChatFormat.For(tokenizer);
        foreach (var c in Read($"{name}.chat.json").Cases)
        {
            var encoding = format.Encode(tokenizer, c.Messages, c.AddGenerationPrompt);
            Assert.Equal(encoding.Ids.Length, encoding.AssistantMask.Length);
            // Expected from the reference rendering alone: every span from an assistant header through its end token.
            var expected = new List<string>();
            for (int at = c.Rendered.IndexOf(header, StringComparison.Ordinal); at >= 0; at = c.Rendered.IndexOf(header, at, StringComparison.Ordinal))
            {
                at += header.Length;
                int stop = c.Rendered.IndexOf(end, at, StringComparison.Ordinal);
                if (stop >= 0) expected.Add(c.Rendered[at..(stop + end.Length)]);
            }
            var masked = RunsOf(encoding, inMask: true).Select(ids => tokenizer.Decode(ids)).ToList();
            Assert.Equal(expected, masked);
        }
    }

    [Fact]
    public void Plain_format_ends_replies_with_eos_and_masks_them()
    {
        var tokenizer = Reins.Models.Tokenizers.Tokenizer.CreateByteLevel(300);
        var format = ChatFormat.For(tokenizer);
        Assert.Equal("plain", format.Name);
        var messages = new[] { ChatMessage.User("Hi"), ChatMessage.Assistant("Hello") };
        Assert.Equal("User: Hi\n\nAssistant: Hello<|eos|>\n\n", format.Render(messages));
        var encoding = format.Encode(tokenizer, messages);
        Assert.Equal(["Hello<|eos|>"], RunsOf(encoding, inMask: true).Select(ids => tokenizer.Decode(ids)));
    }

    private static IEnumerable<int[]> RunsOf(ChatEncoding encoding, bool inMask)
    {
        var run = new List<int>();
        for (int i = 0; i <= encoding.Ids.Length; i++)
        {
            if (i < encoding.Ids.Length && encoding.AssistantMask[i] == inMask) { run.Add(encoding.Ids[i]); continue; }
            if (run.Count > 0) yield return [.. run];
            run.Clear();
        }
    }
}
