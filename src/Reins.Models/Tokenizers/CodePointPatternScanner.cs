namespace Reins.Models.Tokenizers;

/// <summary>
/// A hand-written matcher, over code points, for the pre-tokenizer regexes of GPT-2 and of the Llama-3 / Qwen2
/// family. It replaces .NET's Regex there because that engine classifies UTF-16 units (an astral letter would be
/// two non-letters) and because a direct scan is several times faster. Each method mirrors the regex's
/// alternatives in order, with the backtracking outcomes worked out by hand.
/// </summary>
internal sealed class CodePointPatternScanner
{
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Qwen2Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static readonly CodePointPatternScanner Gpt2 = new(llama3Style: false, maxDigits: int.MaxValue);

    private readonly bool _llama3Style;
    private readonly int _maxDigits;

    private CodePointPatternScanner(bool llama3Style, int maxDigits)
    {
        _llama3Style = llama3Style;
        _maxDigits = maxDigits;
    }

    /// <summary>The scanner equivalent to <paramref name="pattern"/>, or null when it is not one of the known regexes.</summary>
    public static CodePointPatternScanner? Recognize(string pattern) => pattern switch
    {
        Gpt2Pattern => Gpt2,
        Llama3Pattern => new CodePointPatternScanner(llama3Style: true, maxDigits: 3),
        Qwen2Pattern => new CodePointPatternScanner(llama3Style: true, maxDigits: 1),
        _ => null,
    };

    /// <summary>
    /// Length in UTF-16 units of the match starting at <paramref name="i"/>. These patterns match at every
    /// position, so successive matches tile the text.
    /// </summary>
    public int MatchLength(ReadOnlySpan<char> s, int i) => _llama3Style ? MatchLlama3(s, i) : MatchGpt2(s, i);

    private int MatchGpt2(ReadOnlySpan<char> s, int i)
    {
        if (s[i] == '\'' && ContractionLength(s, i, ignoreCase: false) is > 0 and var contraction) return contraction;
        var kind = CodePoints.KindAt(s, i, out int width);
        // " ?X+" for X in letters, numbers, other: an optional leading space joins the run that follows it.
        if (s[i] == ' ' && i + 1 < s.Length)
        {
            var next = CodePoints.KindAt(s, i + 1, out _);
            if (next != CodePointKind.Whitespace) return 1 + RunLength(s, i + 1, next);
        }
        return kind == CodePointKind.Whitespace ? WhitespaceLength(s, i) : width + RunLength(s, i + width, kind);
    }

    private int MatchLlama3(ReadOnlySpan<char> s, int i)
    {
        if (s[i] == '\'' && ContractionLength(s, i, ignoreCase: true) is > 0 and var contraction) return contraction;
        var kind = CodePoints.KindAt(s, i, out int width);
        // [^\r\n\p{L}\p{N}]?\p{L}+ : any one non-letter, non-digit, non-newline code point may lead a word.
        if (kind == CodePointKind.Letter) return width + RunLength(s, i + width, CodePointKind.Letter);
        bool newline = s[i] is '\r' or '\n';
        if (kind != CodePointKind.Number && !newline && i + width < s.Length && CodePoints.KindAt(s, i + width, out _) == CodePointKind.Letter)
            return width + RunLength(s, i + width, CodePointKind.Letter);
        // \p{N}{1,3} (Llama-3) or \p{N} (Qwen2).
        if (kind == CodePointKind.Number)
        {
            int end = i, count = 0;
            while (end < s.Length && count < _maxDigits && CodePoints.KindAt(s, end, out int w) == CodePointKind.Number) { end += w; count++; }
            return end - i;
        }
        // " ?[^\s\p{L}\p{N}]+[\r\n]*"
        int start = s[i] == ' ' && i + 1 < s.Length && CodePoints.KindAt(s, i + 1, out _) == CodePointKind.Other ? i + 1 : i;
        if (start > i || kind == CodePointKind.Other)
        {
            int end = start + RunLength(s, start, CodePointKind.Other);
            while (end < s.Length && s[end] is '\r' or '\n') end++;
            return end - i;
        }
        // "\s*[\r\n]+": greedy \s* backs off to the last newline of the whitespace run, which then ends the match.
        int runEnd = i + RunLength(s, i, CodePointKind.Whitespace);
        int lastNewline = s[i..runEnd].LastIndexOfAny('\r', '\n');
        if (lastNewline >= 0) return lastNewline + 1;
        return WhitespaceLength(s, i);
    }

    // "\s+(?!\S)|\s+": a whitespace run gives its last space to the word that follows it, unless it is a single space.
    private static int WhitespaceLength(ReadOnlySpan<char> s, int i)
    {
        int length = RunLength(s, i, CodePointKind.Whitespace);
        // White_Space code points are all in the BMP, so the last one is one unit wide.
        return i + length == s.Length || length == 1 ? length : length - 1;
    }

    private static int RunLength(ReadOnlySpan<char> s, int i, CodePointKind kind)
    {
        int end = i;
        while (end < s.Length && CodePoints.KindAt(s, end, out int width) == kind) end += width;
        return end - i;
    }

    // 's 't 're 've 'm 'll 'd; case-insensitivity is ASCII-only, as tokenizers.js implements (?i:…).
    private static int ContractionLength(ReadOnlySpan<char> s, int i, bool ignoreCase)
    {
        if (Fold(s, i + 1, ignoreCase) is 's' or 't' or 'm' or 'd') return 2;
        if ((Fold(s, i + 1, ignoreCase), Fold(s, i + 2, ignoreCase)) is ('r', 'e') or ('v', 'e') or ('l', 'l')) return 3;
        return 0;
    }

    private static char Fold(ReadOnlySpan<char> s, int k, bool ignoreCase) =>
        k >= s.Length ? '\0' : ignoreCase && char.IsAsciiLetterUpper(s[k]) ? (char)(s[k] | 0x20) : s[k];
}
