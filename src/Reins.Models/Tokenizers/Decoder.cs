using System.Text;

namespace Reins.Models.Tokenizers;

/// <summary>
/// tokenizer.json's "decoder": turns the token strings of a sequence back into text. Each step rewrites the list
/// of strings in place (the Rust crate's decode_chain); the caller concatenates what is left.
/// </summary>
internal abstract class Decoder
{
    public abstract void DecodeChain(List<string> tokens);

    /// <summary>The raw bytes one token stands for, when this step reads tokens as bytes; else null.</summary>
    public virtual byte[]? TokenBytes(string token) => null;
}

internal sealed class SequenceDecoder(IReadOnlyList<Decoder> steps) : Decoder
{
    public override void DecodeChain(List<string> tokens)
    {
        foreach (var step in steps) step.DecodeChain(tokens);
    }

    public override byte[]? TokenBytes(string token) => steps.Select(s => s.TokenBytes(token)).FirstOrDefault(b => b is not null);
}

/// <summary>Maps <see cref="ByteLevelAlphabet"/> characters back to bytes and reads them as UTF-8.</summary>
/// <param name="addedTokens">Added tokens' text, kept literally as tokenizers.js does rather than read as bytes.</param>
internal sealed class ByteLevelDecoder(IReadOnlySet<string> addedTokens) : Decoder
{
    public override byte[]? TokenBytes(string token)
    {
        if (addedTokens.Contains(token)) return null;
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
            if (!ByteLevelAlphabet.TryGetByte(token[i], out bytes[i])) return Encoding.UTF8.GetBytes(token);
        return bytes;
    }

    public override void DecodeChain(List<string> tokens)
    {
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            if (addedTokens.Contains(token))
            {
                Flush();
                text.Append(token);
                continue;
            }
            int mark = bytes.Count;
            foreach (char c in token)
            {
                if (ByteLevelAlphabet.TryGetByte(c, out byte b)) bytes.Add(b);
                else
                {
                    // Not a byte-level spelling: its own UTF-8 bytes, as the Rust decoder does.
                    bytes.RemoveRange(mark, bytes.Count - mark);
                    bytes.AddRange(Encoding.UTF8.GetBytes(token));
                    break;
                }
            }
        }
        Flush();
        tokens.Clear();
        tokens.Add(text.ToString());

        void Flush()
        {
            text.Append(Encoding.UTF8.GetString([.. bytes]));
            bytes.Clear();
        }
    }
}

/// <summary>
/// Turns runs of &lt;0xAB&gt; tokens into the text their bytes spell; a run that is not valid UTF-8 becomes one
/// U+FFFD per byte, as the Rust decoder does.
/// </summary>
internal sealed class ByteFallbackDecoder : Decoder
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public override byte[]? TokenBytes(string token) => IsByte(token, out byte b) ? [b] : null;

    private static bool IsByte(string token, out byte b)
    {
        b = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out b);
    }

    public override void DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var run = new List<byte>();
        foreach (var token in tokens)
        {
            if (IsByte(token, out byte b))
            {
                run.Add(b);
                continue;
            }
            Flush();
            output.Add(token);
        }
        Flush();
        tokens.Clear();
        tokens.AddRange(output);

        void Flush()
        {
            if (run.Count == 0) return;
            try { output.Add(StrictUtf8.GetString([.. run])); }
            catch (DecoderFallbackException) { output.Add(new string('\uFFFD', run.Count)); }
            run.Clear();
        }
    }
}

internal sealed class FuseDecoder : Decoder
{
    public override void DecodeChain(List<string> tokens)
    {
        var joined = string.Concat(tokens);
        tokens.Clear();
        tokens.Add(joined);
    }
}

/// <summary>Removes up to <paramref name="start"/> leading and <paramref name="stop"/> trailing <paramref name="content"/> characters from each token.</summary>
internal sealed class StripDecoder(char content, int start, int stop) : Decoder
{
    public override void DecodeChain(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            int from = 0, to = token.Length;
            while (from < Math.Min(start, token.Length) && token[from] == content) from++;
            while (token.Length - to < stop && to > from && token[to - 1] == content) to--;
            tokens[i] = token[from..to];
        }
    }
}

internal sealed class ReplaceDecoder(SplitPattern pattern, string content) : Decoder
{
    private readonly ReplaceNormalizer _replace = new(pattern, content);

    public override void DecodeChain(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++) tokens[i] = _replace.Normalize(tokens[i]);
    }
}

/// <summary>SentencePiece's ▁ back to spaces, dropping the space the pre-tokenizer prepended to the first token.</summary>
internal sealed class MetaspaceDecoder(char replacement, bool stripFirstSpace) : Decoder
{
    public override void DecodeChain(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i].Replace(replacement, ' ');
            tokens[i] = i == 0 && stripFirstSpace && token.StartsWith(' ') ? token[1..] : token;
        }
    }
}
