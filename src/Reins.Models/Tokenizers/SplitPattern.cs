using System.Text.RegularExpressions;

namespace Reins.Models.Tokenizers;

/// <summary>What a Split pre-tokenizer or Replace normalizer looks for: a literal string or a regex.</summary>
internal abstract class SplitPattern
{
    /// <summary>Finds the first match at or after <paramref name="from"/>; false when there is none.</summary>
    public abstract bool NextMatch(ReadOnlySpan<char> text, int from, out int start, out int length);

    /// <summary>
    /// A regex from tokenizer.json. The GPT-2 / Llama-3 / Qwen2 patterns get the code-point scanner; any other
    /// regex runs on .NET's engine, which classifies UTF-16 units (see <see cref="CodePointPatternScanner"/>).
    /// </summary>
    public static SplitPattern FromRegex(string pattern) =>
        CodePointPatternScanner.Recognize(pattern) is { } scanner ? new Scanned(scanner) : new RegexPattern(pattern);

    public static SplitPattern FromLiteral(string literal) => new Literal(literal);

    private sealed class Scanned(CodePointPatternScanner scanner) : SplitPattern
    {
        public override bool NextMatch(ReadOnlySpan<char> text, int from, out int start, out int length)
        {
            start = from;
            length = from < text.Length ? scanner.MatchLength(text, from) : 0;
            return length > 0;
        }
    }

    private sealed class Literal(string literal) : SplitPattern
    {
        public override bool NextMatch(ReadOnlySpan<char> text, int from, out int start, out int length)
        {
            int found = literal.Length == 0 ? -1 : text[from..].IndexOf(literal, StringComparison.Ordinal);
            start = found < 0 ? text.Length : from + found;
            length = found < 0 ? 0 : literal.Length;
            return found >= 0;
        }
    }

    private sealed class RegexPattern(string pattern) : SplitPattern
    {
        private readonly Regex _regex = new(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);

        public override bool NextMatch(ReadOnlySpan<char> text, int from, out int start, out int length)
        {
            // An empty match delimits nothing; the enumerator steps past it as Oniguruma's find-iterator does.
            foreach (var m in _regex.EnumerateMatches(text, from))
            {
                if (m.Length == 0) continue;
                (start, length) = (m.Index, m.Length);
                return true;
            }
            (start, length) = (text.Length, 0);
            return false;
        }
    }
}
