namespace Reins.Models.Tokenizers;

/// <summary>
/// GPT-2's reversible byte → printable-character map (bytes_to_unicode in OpenAI's encoder.py), used by the
/// ByteLevel pre-tokenizer and decoder so that every byte string has a vocabulary spelling without spaces or
/// control characters.
/// </summary>
internal static class ByteLevelAlphabet
{
    /// <summary>The character standing for each byte value.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    // Every mapped character is below U+0144, so a flat table answers the reverse question.
    private static readonly short[] CharToByte = BuildCharToByte();

    public static bool TryGetByte(char c, out byte value)
    {
        if (c < CharToByte.Length && CharToByte[c] >= 0)
        {
            value = (byte)CharToByte[c];
            return true;
        }
        value = 0;
        return false;
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            // Printable Latin-1 characters stand for themselves; the rest are shifted past U+00FF in byte order.
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var table = new short[ByteToChar.Max() + 1];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++) table[ByteToChar[b]] = (short)b;
        return table;
    }
}
