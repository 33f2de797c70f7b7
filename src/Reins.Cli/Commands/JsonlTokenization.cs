using System.Text.Json;
using Reins.Models.Tokenizers;

namespace Reins.Cli.Commands;

/// <summary>The `reins tokenize` stream: JSONL {"text": …} in, one {"ids": […]} line out per input line.</summary>
internal static class JsonlTokenization
{
    /// <summary>
    /// Encodes each input line. A line that cannot be read yields {"error": "line N: …"} in its place, so output
    /// line N always answers input line N.
    /// </summary>
    /// <returns>How many lines were errors.</returns>
    public static int Run(Tokenizer tokenizer, Stream input, TextWriter output, bool addSpecialTokens)
    {
        int errors = 0;
        using var buffer = new MemoryStream();
        foreach (var line in Utf8Lines.Read(input))
        {
            buffer.SetLength(0);
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                writer.WriteStartObject();
                try
                {
                    string where = $"line {line.Number}";
                    var ids = tokenizer.Encode(TrainingCorpus.TextOf(line.Text ?? throw new InvalidDataException($"{where}: {line.Problem}"), where), addSpecialTokens);
                    writer.WriteStartArray("ids");
                    foreach (int id in ids) writer.WriteNumberValue(id);
                    writer.WriteEndArray();
                }
                catch (InvalidDataException e)
                {
                    writer.WriteString("error", e.Message);
                    errors++;
                }
                writer.WriteEndObject();
            }
            output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        }
        return errors;
    }
}
