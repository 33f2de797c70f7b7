namespace Reins.Models.Tokenizers;

/// <summary>
/// What we use of transformers' tokenizer_config.json: the names of the BOS, EOS and PAD tokens and the chat template.
/// </summary>
internal sealed record TokenizerConfig(string? BosToken, string? EosToken, string? PadToken, string? ChatTemplate, byte[] Json)
{
    public const string FileName = "tokenizer_config.json";

    public static TokenizerConfig Read(byte[] utf8, string file)
    {
        var root = JsonField.Parse(utf8, file);
        return new TokenizerConfig(TokenName(root, "bos_token"), TokenName(root, "eos_token"), TokenName(root, "pad_token"), ChatTemplateOf(root), utf8);
    }

    // A token is written either as its text or as an AddedToken object {"content": …}.
    private static string? TokenName(JsonField root, string name) => root.Optional(name) switch
    {
        null => null,
        { Value.ValueKind: System.Text.Json.JsonValueKind.String } f => f.String(),
        { } f => f.Required("content").String(),
    };

    // Either one template or a list of named ones, of which "default" is the chat template.
    private static string? ChatTemplateOf(JsonField root)
    {
        if (root.Optional("chat_template") is not { } field) return null;
        if (field.Value.ValueKind == System.Text.Json.JsonValueKind.String) return field.String();
        foreach (var item in field.Items())
            if (item.Required("name").String() == "default") return item.Required("template").String();
        return null;
    }
}
