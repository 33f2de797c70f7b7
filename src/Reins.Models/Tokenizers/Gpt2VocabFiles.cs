namespace Reins.Models.Tokenizers;

/// <summary>
/// The older GPT-2 release format: vocab.json (token → id) and merges.txt (one "left right" pair per line,
/// after a "#version" header), turned into the equivalent tokenizer.json.
/// </summary>
internal static class Gpt2VocabFiles
{
    public const string VocabFile = "vocab.json";
    public const string MergesFile = "merges.txt";
    private const string EndOfText = "<|endoftext|>";

    public static byte[] ToTokenizerJson(string directory)
    {
        string vocabPath = Path.Combine(directory, VocabFile), mergesPath = Path.Combine(directory, MergesFile);
        var root = JsonField.Parse(File.ReadAllBytes(vocabPath), vocabPath);
        var vocab = root.Members().ToDictionary(m => m.Name, m => m.Value.Int(), StringComparer.Ordinal);
        var tokens = new string[vocab.Count];
        foreach (var (token, id) in vocab)
        {
            if (id < 0 || id >= tokens.Length || tokens[id] is not null)
                throw new InvalidDataException($"{vocabPath}: {token}: id {id} is repeated or outside 0..{tokens.Length - 1}");
            tokens[id] = token;
        }

        var merges = new List<(string, string)>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(mergesPath))
        {
            lineNumber++;
            if (line.Length == 0 || lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new InvalidDataException($"{mergesPath}: line {lineNumber}: expected two tokens separated by one space, found \"{line}\"");
            if (TokenizerJsonReader.ResolveMerge(vocab, parts[0], parts[1]) is null)
                throw new InvalidDataException($"{mergesPath}: line {lineNumber}: \"{line}\" uses or makes a token missing from {VocabFile}");
            merges.Add((parts[0], parts[1]));
        }
        int[] specials = vocab.TryGetValue(EndOfText, out int endOfText) ? [endOfText] : [];
        return ByteLevelBpeJson.Write(tokens, merges, specials, bosId: null);
    }
}
