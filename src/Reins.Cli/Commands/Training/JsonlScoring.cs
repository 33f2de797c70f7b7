using Reins.Models.Tokenizers;
using System.Text.Json.Nodes;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Rewards.Scoring;

namespace Reins.Cli.Commands.Training;

/// <summary>
/// Scores a JSONL file of prompt/completion records (or prompt/chosen/rejected pairs, text or conversations) and writes
/// one output line per record, in input order: the record's own fields plus <c>score</c> (or <c>score_chosen</c> and
/// <c>score_rejected</c>; a cost model writes <c>cost</c>, <c>cost_chosen</c>, <c>cost_rejected</c>) and, when the
/// scorer reports them, the details under <c>scores</c> (<c>scores_chosen</c>, <c>scores_rejected</c>). Records are
/// scored in chunks, so files of any size stream through.
/// </summary>
internal static class JsonlScoring
{
    private const int ChunkRecords = 256;

    /// <summary>Scores <paramref name="inputPath"/> into <paramref name="outputPath"/> (written whole, then renamed); returns the records scored.</summary>
    public static int ScoreFile(string inputPath, string outputPath, ITextEncoder encoder, int maxLength,
        Func<IReadOnlyList<TokenizedSequence>, SequenceScores> score, CancellationToken cancellation = default, string key = "score") =>
        Stream(inputPath, outputPath, encoder, maxLength, (chunk, tokenizer, output) => Flush(chunk, tokenizer, score, output, inputPath, key), cancellation);

    /// <summary>
    /// Writes each prompt/chosen/rejected record with <c>probability</c>, the model's P(chosen ≻ rejected).
    /// </summary>
    /// <paramref name="transform"/> rewrites each record before it is tokenised (a pair model's joined responses).
    public static int ScorePairsFile(string inputPath, string outputPath, ITextEncoder encoder, int maxLength,
        Func<IReadOnlyList<TokenizedPair>, float[]> probabilities, CancellationToken cancellation = default, Func<PreferenceExample, PreferenceExample>? transform = null) =>
        Stream(inputPath, outputPath, encoder, maxLength, (chunk, tokenizer, output) =>
        {
            var pairs = chunk.Select(c => c.Example is PreferenceExample pair ? tokenizer.Preference(transform is null ? pair : transform(pair))!
                : throw new InvalidDataException($"{inputPath}:{c.Example.Line}: --pairs takes prompt/chosen/rejected records, not {c.Example.GetType().Name}.")).ToArray();
            var p = probabilities(pairs);
            for (int i = 0; i < chunk.Count; i++)
            {
                chunk[i].Record["probability"] = p[i];
                output.WriteLine(chunk[i].Record.ToJsonString());
            }
            int count = chunk.Count;
            chunk.Clear();
            return count;
        }, cancellation);

    // Reads records in chunks, keeping each line's own fields for the output, and renames the finished file into place.
    private static int Stream(string inputPath, string outputPath, ITextEncoder encoder, int maxLength,
        Func<List<(JsonObject Record, Example Example)>, DatasetTokenizer, StreamWriter, int> flush, CancellationToken cancellation)
    {
        var tokenizer = new DatasetTokenizer(encoder, ScoringTokenization.Options(maxLength));
        var chunk = new List<(JsonObject Record, Example Example)>();
        int records = 0, lineNumber = 0;
        var temporary = outputPath + ".tmp";
        using (var lines = Utf8Lines.Read(inputPath).GetEnumerator())
        using (var output = new StreamWriter(temporary))
        {
            foreach (var example in new JsonlDatasetReader(inputPath).Read(cancellation))
            {
                // The reader validated the line; reading it again here keeps every field of the record for the output.
                while (lineNumber < example.Line && lines.MoveNext()) lineNumber++;
                chunk.Add((JsonNode.Parse(lines.Current.Text!)!.AsObject(), example));
                if (chunk.Count == ChunkRecords) records += flush(chunk, tokenizer, output);
            }
            records += flush(chunk, tokenizer, output);
        }
        File.Move(temporary, outputPath, overwrite: true);
        return records;
    }

    private static int Flush(List<(JsonObject Record, Example Example)> chunk, DatasetTokenizer tokenizer,
        Func<IReadOnlyList<TokenizedSequence>, SequenceScores> score, StreamWriter output, string inputPath, string key)
    {
        if (chunk.Count == 0) return 0;
        // Each record's sequences in order: one for a completion, chosen then rejected for a pair.
        var sequences = new List<TokenizedSequence>();
        foreach (var (_, example) in chunk)
        {
            switch (example)
            {
                case PromptCompletionExample completion:
                    sequences.Add(tokenizer.Sft(completion)!);
                    break;
                case PreferenceExample pair:
                    var tokenized = tokenizer.Preference(pair)!;
                    sequences.Add(tokenized.Chosen);
                    sequences.Add(tokenized.Rejected);
                    break;
                default:
                    throw new InvalidDataException($"{inputPath}:{example.Line}: scoring takes prompt/completion or prompt/chosen/rejected records, not {example.GetType().Name}.");
            }
        }
        var scores = score(sequences);
        int next = 0;
        foreach (var (record, example) in chunk)
        {
            if (example is PreferenceExample)
            {
                Write(record, scores, next++, key + "_chosen", "scores_chosen");
                Write(record, scores, next++, key + "_rejected", "scores_rejected");
            }
            else Write(record, scores, next++, key, "scores");
            output.WriteLine(record.ToJsonString());
        }
        int count = chunk.Count;
        chunk.Clear();
        return count;
    }

    private static void Write(JsonObject record, SequenceScores scores, int index, string key, string detailsKey)
    {
        record[key] = scores.Rewards[index];
        if (scores.Details.Count > 0)
            record[detailsKey] = new JsonObject(scores.Details.Select(d => KeyValuePair.Create(d.Key, (JsonNode?)d.Value[index])));
    }
}
