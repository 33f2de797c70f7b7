namespace Reins.Models.Tokenizers;

/// <summary>
/// Decodes a token stream during generation, emitting text only once it is complete: a character split across
/// byte tokens (an emoji is often four) is held back until its last byte arrives. Works for every decoder by
/// decoding a short window and emitting the difference, as the Rust crate's DecodeStream does; the window keeps
/// the previous tokens as context so that decoders which treat the first token specially (Strip, Metaspace)
/// see the same sequence as a full decode.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly List<int> _window = [];
    private int _contextCount;
    private string _contextText = "";

    internal StreamingDecoder(Tokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Adds one token and returns the text it completes (often empty while a character is incomplete).</summary>
    public string Push(int id)
    {
        _window.Add(id);
        string text = _tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_window), _skipSpecialTokens);
        // U+FFFD at the end means bytes of an unfinished character (or a real error, emitted once more tokens come).
        if (text.Length <= _contextText.Length || text.EndsWith('\uFFFD')) return "";
        int common = text.StartsWith(_contextText, StringComparison.Ordinal) ? _contextText.Length : CommonPrefixLength(text, _contextText);
        string emitted = text[common..];
        _window.RemoveRange(0, _contextCount);
        _contextCount = _window.Count;
        _contextText = _tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_window), _skipSpecialTokens);
        return emitted;
    }

    /// <summary>Returns whatever is still held back (as U+FFFD for bytes that never completed) and starts afresh.</summary>
    public string Flush()
    {
        string text = _tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_window), _skipSpecialTokens);
        string rest = text.Length > _contextText.Length ? text[CommonPrefixLength(text, _contextText)..] : "";
        _window.Clear();
        _contextCount = 0;
        _contextText = "";
        return rest;
    }

    private static int CommonPrefixLength(string a, string b) => a.AsSpan().CommonPrefixLength(b);
}
