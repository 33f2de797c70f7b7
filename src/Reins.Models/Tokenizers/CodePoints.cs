using System.Globalization;

namespace Reins.Models.Tokenizers;

/// <summary>The classes the GPT-2 family of pre-tokenizer regexes distinguish: \p{L}, \p{N}, \s and the rest.</summary>
internal enum CodePointKind : byte { Other, Letter, Number, Whitespace }

/// <summary>
/// Code-point reading and classification over UTF-16 text. The reference tokenizers (Rust's Oniguruma, JS regexes
/// in `u` mode) see code points, so a letter outside the BMP (𝔘, CJK Extension B) is one \p{L}, never two surrogates.
/// </summary>
internal static class CodePoints
{
    private static readonly CodePointKind[] AsciiKinds = BuildAsciiKinds();

    /// <summary>The code point starting at <paramref name="i"/> and how many UTF-16 units it takes (a lone surrogate is its own code point).</summary>
    public static int At(ReadOnlySpan<char> s, int i, out int width)
    {
        char c = s[i];
        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            width = 2;
            return char.ConvertToUtf32(c, s[i + 1]);
        }
        width = 1;
        return c;
    }

    public static CodePointKind KindOf(int cp)
    {
        if (cp < 128) return AsciiKinds[cp];
        if (IsWhiteSpace(cp)) return CodePointKind.Whitespace;
        return CharUnicodeInfo.GetUnicodeCategory(cp) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CodePointKind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CodePointKind.Number,
            _ => CodePointKind.Other,
        };
    }

    public static CodePointKind KindAt(ReadOnlySpan<char> s, int i, out int width)
    {
        if (s[i] < 128)
        {
            width = 1;
            return AsciiKinds[s[i]];
        }
        return KindOf(At(s, i, out width));
    }

    /// <summary>
    /// Unicode's White_Space property, which is what \s means to Oniguruma and to tokenizers.js (unlike .NET's \s,
    /// which differs, and JavaScript's, which adds U+FEFF and drops U+0085).
    /// </summary>
    public static bool IsWhiteSpace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680 or >= 0x2000 and <= 0x200A
            or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        _ => false,
    };

    private static CodePointKind[] BuildAsciiKinds()
    {
        var kinds = new CodePointKind[128];
        for (int c = 0; c < 128; c++)
            kinds[c] = IsWhiteSpace(c) ? CodePointKind.Whitespace
                : char.IsAsciiLetter((char)c) ? CodePointKind.Letter
                : char.IsAsciiDigit((char)c) ? CodePointKind.Number
                : CodePointKind.Other;
        return kinds;
    }
}
