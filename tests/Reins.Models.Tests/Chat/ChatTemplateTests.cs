using System.Text.Json;
using Reins.Models.Chat;
using Reins.Models.Chat.Jinja;

namespace Reins.Models.Tests.Chat;

/// <summary>
/// The Jinja renderer against two independent engines: Python's jinja2 set up as transformers sets it up
/// (tools/make_jinja_fixtures.py) on a battery of expressions, statements and whitespace rules, and both jinja2 and
/// @huggingface/jinja (tools/make_chat_template_fixtures.mjs) on the real Qwen3, Llama-3, Gemma-3 and Mistral templates.
/// </summary>
public class ChatTemplateTests
{
    private static readonly JsonDocument Expressions = JsonDocument.Parse(File.ReadAllBytes(Fixtures.PathOf("jinja/expressions.json")));
    private static readonly JsonDocument Templates = JsonDocument.Parse(File.ReadAllBytes(Fixtures.PathOf("jinja/templates.json")));
    private static readonly DateTime Now = DateTime.Parse(Expressions.RootElement.GetProperty("now").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    public static TheoryData<int> ExpressionCases() => [.. Enumerable.Range(0, Expressions.RootElement.GetProperty("cases").GetArrayLength())];
    public static TheoryData<int> ErrorCases() => [.. Enumerable.Range(0, Expressions.RootElement.GetProperty("errors").GetArrayLength())];
    public static TheoryData<int> TemplateCases() => [.. Enumerable.Range(0, Templates.RootElement.GetProperty("cases").GetArrayLength())];

    [Theory]
    [MemberData(nameof(ExpressionCases))]
    public void RendersLikeJinja2(int index)
    {
        var c = Expressions.RootElement.GetProperty("cases")[index];
        var template = new ChatTemplate(c.GetProperty("template").GetString()!);
        var output = template.Render(Expressions.RootElement.GetProperty("context"), Now);
        Assert.Equal(c.GetProperty("rendered").GetString(), output.Text);
    }

    [Theory]
    [MemberData(nameof(ErrorCases))]
    public void RefusesWhatJinja2Refuses(int index)
    {
        var c = Expressions.RootElement.GetProperty("errors")[index];
        var error = Assert.Throws<JinjaException>(() =>
            new ChatTemplate(c.GetProperty("template").GetString()!).Render(Expressions.RootElement.GetProperty("context"), Now));
        Assert.Contains(c.GetProperty("reins_error_contains").GetString()!, error.Message);
        Assert.StartsWith($"chat template line {error.Line}:", error.Message);
    }

    [Theory]
    [MemberData(nameof(TemplateCases))]
    public void RendersRealTemplatesLikeBothEngines(int index)
    {
        var c = Templates.RootElement.GetProperty("cases")[index];
        string name = c.GetProperty("template").GetString()!;
        var template = new ChatTemplate(Templates.RootElement.GetProperty("templates").GetProperty(name).GetProperty("template").GetString()!);
        string? expected = c.GetProperty("jinja2").GetString();
        if (expected is null)
        {
            Assert.Throws<JinjaException>(() => template.Render(c.GetProperty("variables")));
            return;
        }
        // Where @huggingface/jinja renders too, the two engines agree (one case: jinja2 prints a list where the JS port refuses).
        if (c.GetProperty("rendered").GetString() is { } javascript) Assert.Equal(javascript, expected);
        Assert.Equal(expected, template.Render(c.GetProperty("variables")).Text);
    }

    [Fact]
    public void AnErrorNamesTheTemplateLine()
    {
        var error = Assert.Throws<JinjaException>(() => new ChatTemplate("{% for m in messages %}\n{{ m.content }}\n{% endfor %}\n{% call foo() %}{% endcall %}"));
        Assert.Equal(4, error.Line);
        Assert.Contains("'call' statement is not supported", error.Message);
        var raised = Assert.Throws<JinjaException>(() => new ChatTemplate("ok\n\n{{ raise_exception('roles must alternate') }}").Render([ChatMessage.User("x")], false));
        Assert.Equal("chat template line 3: the template raised: roles must alternate", raised.Message);
    }

    [Fact]
    public void GenerationBlocksMarkTheAssistantText()
    {
        var template = new ChatTemplate(
            "{% for m in messages %}{% if m.role == 'assistant' %}<a>{% generation %}{{ m.content }}</a>{% endgeneration %}{% else %}<u>{{ m.content }}</u>{% endif %}{% endfor %}");
        var output = template.Render([ChatMessage.User("q"), ChatMessage.Assistant("r1"), ChatMessage.User("q2"), ChatMessage.Assistant("r2")], false);
        Assert.Equal("<u>q</u><a>r1</a><u>q2</u><a>r2</a>", output.Text);
        Assert.Equal(["r1</a>", "r2</a>"], output.Generation.Select(r => output.Text[r]));
    }
}
