using System.Globalization;
using System.Text;

namespace Reins.Models.Chat.Jinja;

internal enum TokenKind { Text, OutputStart, OutputEnd, StatementStart, StatementEnd, Name, String, Integer, Float, Operator, End }

internal readonly record struct JinjaToken(TokenKind Kind, string Value, int Line);

/// <summary>
/// Splits a template into text and tag tokens with the whitespace rules transformers compiles chat templates with:
/// trim_blocks (the newline after a block or comment tag is dropped), lstrip_blocks (spaces and tabs before a block
/// or comment tag that starts its line are dropped), "-" on a tag strips all whitespace on that side, and one
/// trailing newline of the template is dropped; line endings are read as \n.
/// </summary>
internal static class JinjaLexer
{
    private static readonly string[] Operators = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"];

    public static List<JinjaToken> Tokenize(string source)
    {
        source = source.Replace("\r\n", "\n").Replace('\r', '\n'); // jinja2 writes every line ending as \n
        if (source.EndsWith('\n')) source = source[..^1];
        var tokens = new List<JinjaToken>();
        int pos = 0, line = 1;
        bool stripNextText = false;
        while (pos < source.Length)
        {
            int open = NextTag(source, pos);
            int textEnd = open < 0 ? source.Length : open;
            string text = source[pos..textEnd];
            if (stripNextText) text = text.TrimStart();
            stripNextText = false;
            char kind = open < 0 ? '\0' : source[open + 1];
            char modifier = open >= 0 && open + 2 < source.Length ? source[open + 2] : '\0';
            if (modifier == '-') text = text.TrimEnd();
            else if (kind is '%' or '#' && modifier != '+') text = LstripBlock(source, pos, text);
            if (text.Length > 0) tokens.Add(new JinjaToken(TokenKind.Text, text, line));
            line += Count(source, pos, textEnd);
            if (open < 0) break;
            pos = open + 2 + (modifier is '-' or '+' ? 1 : 0);
            if (kind == '#')
            {
                int close = source.IndexOf("#}", pos, StringComparison.Ordinal);
                if (close < 0) throw new JinjaException("a comment is never closed with '#}'", line);
                stripNextText = source[close - 1] == '-';
                int after = TrimBlock(source, close + 2, stripNextText);
                line += Count(source, pos, after);
                pos = after;
                continue;
            }
            if (kind == '%' && RawBlock(source, pos, line) is { } raw)
            {
                if (raw.Text.Length > 0) tokens.Add(new JinjaToken(TokenKind.Text, raw.Text, line));
                line += Count(source, pos, raw.End);
                pos = raw.End;
                continue;
            }
            tokens.Add(new JinjaToken(kind == '{' ? TokenKind.OutputStart : TokenKind.StatementStart, "", line));
            (pos, line, stripNextText) = TagContents(source, pos, line, kind == '{' ? "}}" : "%}", tokens);
            tokens.Add(new JinjaToken(kind == '{' ? TokenKind.OutputEnd : TokenKind.StatementEnd, "", line));
            if (kind == '%')
            {
                int after = TrimBlock(source, pos, stripNextText);
                line += Count(source, pos, after);
                pos = after;
            }
        }
        tokens.Add(new JinjaToken(TokenKind.End, "", line));
        return tokens;
    }

    private static int NextTag(string source, int from)
    {
        for (int i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
            if (source[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private static int Count(string source, int from, int to)
    {
        int n = 0;
        for (int i = from; i < to; i++) if (source[i] == '\n') n++;
        return n;
    }

    // lstrip_blocks: only when nothing but spaces and tabs stands between the start of the line and the tag.
    private static string LstripBlock(string source, int textStart, string text)
    {
        int k = text.Length;
        while (k > 0 && text[k - 1] is ' ' or '\t') k--;
        bool lineStart = k > 0 ? text[k - 1] == '\n' : textStart == 0 || source[textStart - 1] == '\n';
        return lineStart ? text[..k] : text;
    }

    // trim_blocks: the first newline after a block or comment tag goes (a "-" has already removed all whitespace).
    private static int TrimBlock(string source, int pos, bool stripped)
    {
        if (stripped) return pos;
        return pos < source.Length && source[pos] == '\n' ? pos + 1 : pos;
    }

    private static (string Text, int End)? RawBlock(string source, int pos, int line)
    {
        int i = pos;
        while (i < source.Length && char.IsWhiteSpace(source[i])) i++;
        if (string.CompareOrdinal(source, i, "raw", 0, 3) != 0 || (i + 3 < source.Length && char.IsLetterOrDigit(source[i + 3]))) return null;
        int close = source.IndexOf("%}", i, StringComparison.Ordinal);
        if (close < 0) throw new JinjaException("a block tag is never closed with '%}'", line);
        int bodyStart = TrimBlock(source, close + 2, source[close - 1] == '-');
        if (source[close - 1] == '-') while (bodyStart < source.Length && char.IsWhiteSpace(source[bodyStart])) bodyStart++;
        for (int end = source.IndexOf("{%", bodyStart, StringComparison.Ordinal); end >= 0; end = source.IndexOf("{%", end + 2, StringComparison.Ordinal))
        {
            int j = end + 2 + (end + 2 < source.Length && source[end + 2] is '-' or '+' ? 1 : 0);
            while (j < source.Length && char.IsWhiteSpace(source[j])) j++;
            if (string.CompareOrdinal(source, j, "endraw", 0, 6) != 0) continue;
            int endClose = source.IndexOf("%}", j, StringComparison.Ordinal);
            if (endClose < 0) break;
            string body = source[bodyStart..end];
            if (source[end + 2] == '-') body = body.TrimEnd();
            return (body, TrimBlock(source, endClose + 2, source[endClose - 1] == '-'));
        }
        throw new JinjaException("'raw' is never closed with 'endraw'", line);
    }

    private static (int Pos, int Line, bool StripAfter) TagContents(string source, int pos, int line, string close, List<JinjaToken> tokens)
    {
        int braces = 0;
        while (true)
        {
            while (pos < source.Length && char.IsWhiteSpace(source[pos])) { if (source[pos] == '\n') line++; pos++; }
            if (pos >= source.Length) throw new JinjaException($"a tag is never closed with '{close}'", line);
            if (braces == 0 && source[pos] == '-' && string.CompareOrdinal(source, pos + 1, close, 0, 2) == 0) return (pos + 3, line, true);
            if (braces == 0 && string.CompareOrdinal(source, pos, close, 0, 2) == 0) return (pos + 2, line, false);
            char c = source[pos];
            if (c is '\'' or '"')
            {
                (string value, int end) = StringLiteral(source, pos, line);
                tokens.Add(new JinjaToken(TokenKind.String, value, line));
                line += Count(source, pos, end);
                pos = end;
            }
            else if (char.IsAsciiDigit(c))
            {
                int start = pos;
                while (pos < source.Length && (char.IsAsciiDigit(source[pos]) || source[pos] == '_')) pos++;
                bool isFloat = false;
                if (pos + 1 < source.Length && source[pos] == '.' && char.IsAsciiDigit(source[pos + 1]))
                {
                    isFloat = true;
                    pos++;
                    while (pos < source.Length && char.IsAsciiDigit(source[pos])) pos++;
                }
                if (pos < source.Length && source[pos] is 'e' or 'E')
                {
                    int e = pos + 1;
                    if (e < source.Length && source[e] is '+' or '-') e++;
                    if (e < source.Length && char.IsAsciiDigit(source[e]))
                    {
                        isFloat = true;
                        pos = e;
                        while (pos < source.Length && char.IsAsciiDigit(source[pos])) pos++;
                    }
                }
                tokens.Add(new JinjaToken(isFloat ? TokenKind.Float : TokenKind.Integer, source[start..pos].Replace("_", ""), line));
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                int start = pos;
                while (pos < source.Length && (char.IsAsciiLetterOrDigit(source[pos]) || source[pos] == '_')) pos++;
                tokens.Add(new JinjaToken(TokenKind.Name, source[start..pos], line));
            }
            else
            {
                string? op = Operators.FirstOrDefault(o => string.CompareOrdinal(source, pos, o, 0, o.Length) == 0)
                    ?? throw new JinjaException($"unexpected character '{c}' in a tag", line);
                if (op == "{") braces++;
                if (op == "}") braces--;
                tokens.Add(new JinjaToken(TokenKind.Operator, op, line));
                pos += op.Length;
            }
        }
    }

    // Python's string escapes, as Jinja's lexer reads them.
    private static (string Value, int End) StringLiteral(string source, int pos, int line)
    {
        char quote = source[pos];
        var sb = new StringBuilder();
        for (int i = pos + 1; i < source.Length; i++)
        {
            char c = source[i];
            if (c == quote) return (sb.ToString(), i + 1);
            if (c != '\\' || i + 1 >= source.Length) { sb.Append(c); continue; }
            char e = source[++i];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '0': sb.Append('\0'); break;
                case '\\' or '\'' or '"': sb.Append(e); break;
                case '\n': break;
                case 'x' or 'u' or 'U':
                    int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (i + digits >= source.Length || !int.TryParse(source.AsSpan(i + 1, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
                        throw new JinjaException($"a bad \\{e} escape in a string", line);
                    sb.Append(char.ConvertFromUtf32(code));
                    i += digits;
                    break;
                default: sb.Append('\\').Append(e); break;
            }
        }
        throw new JinjaException("a string is never closed", line);
    }
}

/// <summary>A chat template that cannot be parsed or rendered; the message names the template line.</summary>
public sealed class JinjaException(string message, int line) : FormatException($"chat template line {line}: {message}")
{
    /// <summary>The template line (1-based) the error is on.</summary>
    public int Line { get; } = line;
}
