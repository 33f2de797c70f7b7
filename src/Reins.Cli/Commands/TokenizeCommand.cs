using System.CommandLine;
using Reins.Models.Tokenizers;

namespace Reins.Cli.Commands;

/// <summary>`reins tokenize`: JSONL {"text": …} on stdin → one {"ids": […]} line per input line on stdout.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var path = new Option<string>("--tokenizer") { Description = "tokenizer.json, or a directory with tokenizer.json or vocab.json + merges.txt.", Required = true };
        var addSpecial = new Option<bool>("--add-special-tokens") { Description = "Apply the tokenizer's template (e.g. prepend BOS)." };
        var cmd = new Command("tokenize", "Encode JSONL lines {\"text\": …} from stdin; a malformed line gives {\"error\": \"line N: …\"} in its place.") { path, addSpecial };
        cmd.SetAction(r =>
        {
            var tokenizer = Tokenizer.Load(r.GetValue(path)!);
            using var stdout = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false)) { AutoFlush = false };
            using var stdin = Console.OpenStandardInput();
            int errors = JsonlTokenization.Run(tokenizer, stdin, stdout, r.GetValue(addSpecial));
            if (errors > 0) Console.Error.WriteLine($"tokenize: {errors} line(s) could not be read");
            return 0;
        });
        return cmd;
    }
}
