using System.Text.Json;
using Reins.Models.Chat;
using Reins.Models.Chat.Jinja;

namespace Reins.Models.Tests.Tokenizers;

/// <summary>Chat formats on real tokenizers: rendering against @huggingface/jinja (tools/make_tokenizer_fixtures.mjs), and the assistant masks.</summary>
public class ChatFormatTests
{
    public sealed record ChatCase(ChatMessage[] Messages, bool AddGenerationPrompt, string Rendered, int[] Ids);

    private sealed record ChatFile(string? Template, List<ChatCase> Cases);

    private static ChatFile Read(string file) =>
        JsonSerializer.Deserialize<ChatFile>(File.ReadAllBytes(Fixtures.PathOf($"tokenizers/{file}")), new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!;

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    public void A_tokenizer_with_a_chat_template_is_rendered_with_it(string tokenizer)
    {
        var format = ChatFormat.For(TokenizerFixtures.Load(tokenizer));
        Assert.Equal("chat_template", format.Name);
        Assert.Equal(TokenizerFixtures.Load(tokenizer).ChatTemplate, format.Template.Source);
    }

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
    public void A_qwen25_style_template_adds_its_default_system_prompt()
    {
        var file = Read("qwen25_style.chat.json");
        var template = new ChatTemplate(file.Template!);
        foreach (var c in file.Cases) Assert.Equal(c.Rendered, template.Render(c.Messages, c.AddGenerationPrompt).Text);
        Assert.StartsWith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.", template.Render([ChatMessage.User("x")], false).Text);
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
        AssertMaskCoversReplies(tokenizer, Read($"{name}.chat.json").Cases, header, end);
    }

    [Fact]
    public void Assistant_mask_of_a_template_that_closes_replies_with_eos_and_a_space()
    {
        // Mistral-7B-Instruct-v0.1's template on Llama-2's tokenizer (the same <s>, </s> and [INST] conventions): "[/INST]"
        // opens a reply and "</s> " closes it, so the mask is each reply and its </s>, not the space.
        var templates = JsonDocument.Parse(File.ReadAllBytes(Fixtures.PathOf("jinja/templates.json"))).RootElement;
        var tokenizer = WithTemplate("llama2", templates.GetProperty("templates").GetProperty("mistral").GetProperty("template").GetString()!);
        var cases = templates.GetProperty("cases").EnumerateArray()
            .Where(c => c.GetProperty("template").GetString() == "mistral" && c.GetProperty("jinja2").ValueKind == JsonValueKind.String)
            .Select(c => new ChatCase(
                c.GetProperty("variables").GetProperty("messages").EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToArray(),
                c.GetProperty("variables").GetProperty("add_generation_prompt").GetBoolean(), c.GetProperty("jinja2").GetString()!, []))
            .ToList();
        Assert.True(cases.Count(c => c.Messages.Any(m => m.Role == "assistant")) >= 3);
        AssertMaskCoversReplies(tokenizer, cases, "[/INST]", "</s>");
    }

    [Fact]
    public void Generation_blocks_in_a_template_decide_the_mask()
    {
        // TRL's assistant_only_loss convention: what {% generation %} wraps is trained on, here the reply without its end token.
        var tokenizer = WithTemplate("qwen3",
            "{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' }}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}{{ '<|im_end|>\n' }}{% endfor %}");
        var encoding = ChatFormat.For(tokenizer).Encode(tokenizer, [ChatMessage.User("q"), ChatMessage.Assistant("first reply"), ChatMessage.User("q2"), ChatMessage.Assistant("second")]);
        Assert.Equal(["first reply", "second"], RunsOf(encoding, inMask: true).Select(ids => tokenizer.Decode(ids)));
    }

    [Fact]
    public void A_template_that_rewrites_earlier_turns_is_refused_with_the_turn_named()
    {
        // Counting the messages up front changes the text before every reply once the reply is added.
        var tokenizer = WithTemplate("qwen3", "{{ messages | length }}{% for m in messages %}{{ m.role + ': ' + m.content + '\n' }}{% endfor %}");
        var error = Assert.Throws<ArgumentException>(() => ChatFormat.For(tokenizer).Encode(tokenizer, [ChatMessage.User("q"), ChatMessage.Assistant("a")]));
        Assert.Contains("message 1", error.Message);
        Assert.Contains("generation", error.Message);
    }

    private static readonly Lock TemplateGate = new();

    // A tokenizer fixture's tokenizer.json with another tokenizer_config.json: its special tokens and a given chat template.
    private static Reins.Models.Tokenizers.Tokenizer WithTemplate(string baseName, string template)
    {
        var source = TokenizerFixtures.Directory(baseName);
        var dir = Path.Combine(Path.GetTempPath(), "reins-chat-template-tests", $"{baseName}-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(template)))[..16]}");
        lock (TemplateGate)
        {
            Directory.CreateDirectory(dir);
            File.Copy(Path.Combine(source, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"), overwrite: true);
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllBytes(Path.Combine(source, "tokenizer_config.json")))!.AsObject();
            config["chat_template"] = template;
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
            return Reins.Models.Tokenizers.Tokenizer.Load(dir);
        }
    }

    private static void AssertMaskCoversReplies(Reins.Models.Tokenizers.Tokenizer tokenizer, IEnumerable<ChatCase> cases, string header, string end)
    {
        var format = ChatFormat.For(tokenizer);
        foreach (var c in cases)
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
