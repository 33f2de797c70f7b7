using System.Buffers;

namespace Reins.Models.Tokenizers;

/// <summary>A stretch of input: either plain text or one added token.</summary>
internal readonly record struct TextSegment(int Start, int Length, AddedToken? Token);

/// <summary>
/// Finds added tokens in text, leftmost first and longest at a position (the reference implementations'
/// leftmost-longest Aho-Corasick), so that "&lt;|im_start|&gt;" is never split into pieces.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly SearchValues<char> _firstChars;
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = SearchValues.Create([.. _byFirstChar.Keys]);
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>Splits <paramref name="text"/> into text and token segments; whitespace swallowed by lstrip/rstrip is in neither.</summary>
    public void Split(string text, List<TextSegment> output)
    {
        int textStart = 0, at = 0;
        while (at < text.Length)
        {
            int found = text.AsSpan(at).IndexOfAny(_firstChars);
            if (found < 0) break;
            at += found;
            if (Match(text, at) is not { } token)
            {
                at++;
                continue;
            }
            int start = at, end = at + token.Content.Length;
            if (token.LStrip) while (start > textStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (token.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            if (start > textStart) output.Add(new TextSegment(textStart, start - textStart, null));
            output.Add(new TextSegment(at, token.Content.Length, token));
            textStart = at = end;
        }
        if (textStart < text.Length) output.Add(new TextSegment(textStart, text.Length - textStart, null));
    }

    private AddedToken? Match(string text, int at)
    {
        foreach (var token in _byFirstChar[text[at]])
        {
            if (!text.AsSpan(at).StartsWith(token.Content, StringComparison.Ordinal)) continue;
            if (token.SingleWord && (IsWordChar(text, at - 1) || IsWordChar(text, at + token.Content.Length))) continue;
            return token;
        }
        return null;
    }

    private static bool IsWordChar(string text, int i) => i >= 0 && i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_');
}
