using System.Text.Json;
using Reins.Models.Tokenizers;

namespace Reins.Feedback.Datasets;

/// <summary>
/// Streams the records of a JSONL dataset one line at a time, validating each against the format (given, or
/// detected from the first valid record). Every line ends up as a record, a counted blank, a counted skip (with
/// <see cref="DatasetReadOptions.SkipInvalid"/>) or a <see cref="DatasetException"/>; a file without records is an error.
/// </summary>
public sealed class JsonlDatasetReader
{
    private readonly DatasetReadOptions options;
    private bool started;

    /// <summary>A reader of <paramref name="path"/>; nothing is opened until <see cref="Read"/> is enumerated.</summary>
    public JsonlDatasetReader(string path, DatasetReadOptions? options = null)
    {
        FilePath = path;
        this.options = options ?? new DatasetReadOptions();
        Report = new DatasetReport(path) { Format = this.options.Format, RatingAttributes = this.options.RatingAttributes };
    }

    /// <summary>The file.</summary>
    public string FilePath { get; }

    /// <summary>Counts so far; complete once <see cref="Read"/> has been enumerated to the end.</summary>
    public DatasetReport Report { get; }

    /// <summary>Reads a whole file into memory, checking that its records are of type <typeparamref name="T"/>.</summary>
    public static Dataset<T> Load<T>(string path, DatasetReadOptions? options = null) where T : Example
    {
        var reader = new JsonlDatasetReader(path, options);
        var examples = new List<T>();
        foreach (var example in reader.Read())
        {
            examples.Add(example as T ?? throw new DatasetException(path, example.Line, null, DatasetErrorReason.WrongFormat,
                $"the dataset is {reader.Report.Format} ({example.GetType().Name}), but {typeof(T).Name} records are needed"));
        }
        return new Dataset<T>(examples, reader.Report);
    }

    /// <summary>The records in file order. May be enumerated once.</summary>
    public IEnumerable<Example> Read(CancellationToken cancellationToken = default)
    {
        if (started) throw new InvalidOperationException($"{FilePath}: a {nameof(JsonlDatasetReader)} reads its file once; make a new one.");
        started = true;
        return ReadLines(cancellationToken);
    }

    private IEnumerable<Example> ReadLines(CancellationToken cancellationToken)
    {
        var state = new ReadState(options.Format, null, null, options.RatingAttributes);
        foreach (var utf8 in Utf8Lines.Read(FilePath))
        {
            cancellationToken.ThrowIfCancellationRequested();
            int line = ++Report.Lines;
            if (utf8.Text is { } blank && string.IsNullOrWhiteSpace(blank))
            {
                Report.BlankLines++;
                continue;
            }
            Example example;
            try
            {
                example = ParseLine(utf8.Text ?? throw new DatasetException(FilePath, line, null, DatasetErrorReason.InvalidText, utf8.Problem), line, ref state);
            }
            catch (DatasetException error) when (options.SkipInvalid)
            {
                Report.Skip(error);
                continue;
            }
            Report.Records++;
            yield return example;
        }
        if (Report.Records == 0)
        {
            throw new DatasetException(FilePath, null, null, DatasetErrorReason.EmptyDataset,
                $"the dataset is empty: no record in {Report.Lines} lines ({Report.BlankLines} blank, {Report.SkippedTotal} invalid)");
        }
    }

    private Example ParseLine(string text, int line, ref ReadState state)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new DatasetException(FilePath, line, null, DatasetErrorReason.MalformedJson, DescribeJsonError(e));
        }
        // The check for duplicate keys decodes every key, and fails on one that escapes a lone surrogate.
        catch (InvalidOperationException)
        {
            throw new DatasetException(FilePath, line, null, DatasetErrorReason.InvalidText, $"a key {JsonText.LoneSurrogate}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new DatasetException(FilePath, line, null, DatasetErrorReason.NotAnObject, $"expected a JSON object, got {RecordFields.KindName(root.ValueKind)}");
            var next = state;
            if (next.Format == DatasetFormat.Auto)
            {
                var detected = FormatDetection.Detect(root) ?? throw new DatasetException(FilePath, line, null, DatasetErrorReason.UnknownFormat,
                    $"no known format has the keys {string.Join(", ", root.EnumerateObject().Select(p => $"\"{p.Name}\""))}; set {nameof(DatasetReadOptions)}.{nameof(DatasetReadOptions.Format)}");
                next = next with { Format = detected };
            }
            var fields = new RecordFields(root, FilePath, line, next.Style, FormatDetection.Needs(next.Format));
            var example = RecordParser.Parse(fields, ref next);
            var extra = fields.Extra();
            // Only a valid record fixes the format, style and attributes for the rest of the file.
            state = next;
            Report.Format = next.Format;
            Report.Style = next.Style;
            Report.RatingAttributes = next.RatingAttributes;
            foreach (var key in fields.IgnoredMessageKeys) Report.IgnoreMessageKey(key);
            return example with { Extra = extra, Line = line };
        }
    }

    // System.Text.Json appends its own "LineNumber: 0 | BytePositionInLine: n." (and a "Path:"); the file line is
    // already in our prefix, so keep the description and report the position once.
    private static string DescribeJsonError(JsonException e)
    {
        string message = e.Message;
        foreach (var tail in new[] { " Path:", " LineNumber:" })
        {
            int cut = message.IndexOf(tail, StringComparison.Ordinal);
            if (cut >= 0) message = message[..cut];
        }
        return e.BytePositionInLine is { } position ? $"malformed JSON at byte {position + 1}: {message}" : $"malformed JSON: {message}";
    }
}
