using System.IO.Compression;
using System.Text;

namespace Reins.Models.Tokenizers;

/// <summary>
/// Unicode normalization forms C, D, KC and KD (UAX #15), with tables generated from the Unicode Character
/// Database by tools/make_unicode_normalization_data.py. We carry our own because string.Normalize is a silent
/// no-op under InvariantGlobalization, which this repository enables, and Qwen's tokenizer.json asks for NFC.
/// </summary>
internal static class UnicodeNormalization
{
    // Hangul syllables decompose and compose arithmetically (Unicode §3.12).
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, SCount = LCount * VCount * TCount;

    private static readonly Lazy<Tables> Data = new(LoadTables);

    public static string Normalize(string text, NormalizationForm form)
    {
        bool compose = form is NormalizationForm.FormC or NormalizationForm.FormKC;
        bool compatibility = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        // Below these code points every character is already in the form and cannot combine with its neighbours.
        char unaffectedBelow = compatibility ? '\u00A0' : compose ? '\u0300' : '\u00C0';
        if (text.AsSpan().IndexOfAnyInRange(unaffectedBelow, char.MaxValue) < 0) return text;

        var tables = Data.Value;
        var points = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes()) Decompose(rune.Value, compatibility, tables, points);
        CanonicalOrder(points, tables);
        if (compose) Compose(points, tables);
        var result = new StringBuilder(points.Count);
        foreach (int cp in points) result.Append(char.ConvertFromUtf32(cp));
        return result.ToString();
    }

    private static void Decompose(int cp, bool compatibility, Tables tables, List<int> output)
    {
        if (cp >= SBase && cp < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / (VCount * TCount));
            output.Add(VBase + s % (VCount * TCount) / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (tables.Decompositions.TryGetValue(cp, out var d) && (compatibility || !d.Compatibility))
            foreach (int part in d.Mapping) Decompose(part, compatibility, tables, output);
        else output.Add(cp);
    }

    // Stable sort of each run of non-starters by combining class.
    private static void CanonicalOrder(List<int> points, Tables tables)
    {
        for (int i = 1; i < points.Count; i++)
        {
            int cc = tables.CombiningClass(points[i]);
            if (cc == 0) continue;
            for (int j = i; j > 0 && tables.CombiningClass(points[j - 1]) > cc; j--) (points[j - 1], points[j]) = (points[j], points[j - 1]);
        }
    }

    // The canonical composition algorithm: a character joins the last starter unless a character of the same or
    // higher class stands between them (it is "blocked").
    private static void Compose(List<int> points, Tables tables)
    {
        if (points.Count == 0) return;
        int starterPos = 0, write = 1;
        int lastClass = tables.CombiningClass(points[0]) == 0 ? 0 : 256;
        for (int i = 1; i < points.Count; i++)
        {
            int cp = points[i], cc = tables.CombiningClass(cp);
            if ((lastClass < cc || lastClass == 0) && ComposePair(points[starterPos], cp, tables) is { } composite)
            {
                points[starterPos] = composite;
                continue;
            }
            if (cc == 0) starterPos = write;
            lastClass = cc;
            points[write++] = cp;
        }
        points.RemoveRange(write, points.Count - write);
    }

    private static int? ComposePair(int first, int second, Tables tables)
    {
        if (first >= LBase && first < LBase + LCount && second >= VBase && second < VBase + VCount)
            return SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
        if (first >= SBase && first < SBase + SCount && (first - SBase) % TCount == 0 && second > TBase && second < TBase + TCount)
            return first + (second - TBase);
        return tables.Compositions.TryGetValue(((long)first << 32) | (uint)second, out int composite) ? composite : null;
    }

    private sealed record Decomposition(int[] Mapping, bool Compatibility);

    private sealed class Tables
    {
        public readonly Dictionary<int, byte> Classes = [];
        public readonly Dictionary<int, Decomposition> Decompositions = [];
        public readonly Dictionary<long, int> Compositions = [];

        public int CombiningClass(int cp) => cp < 0x300 ? 0 : Classes.GetValueOrDefault(cp);
    }

    // Lines "CODE;CCC;KIND;MAPPING": KIND is K (compatibility), C (canonical) or X (canonical, never recomposed).
    private static Tables LoadTables()
    {
        const string Resource = "Reins.Models.Tokenizers.UnicodeNormalizationData.txt.gz";
        using var stream = typeof(UnicodeNormalization).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"embedded resource {Resource} is missing from the build");
        using var reader = new StreamReader(new GZipStream(stream, CompressionMode.Decompress));
        var tables = new Tables();
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            var fields = line.Split(';');
            int cp = Convert.ToInt32(fields[0], 16);
            if (byte.Parse(fields[1]) is > 0 and var cc) tables.Classes[cp] = cc;
            if (fields[2].Length == 0) continue;
            var mapping = fields[3].Split(' ').Select(h => Convert.ToInt32(h, 16)).ToArray();
            tables.Decompositions[cp] = new Decomposition(mapping, fields[2] == "K");
            if (fields[2] == "C" && mapping.Length == 2) tables.Compositions[((long)mapping[0] << 32) | (uint)mapping[1]] = cp;
        }
        return tables;
    }
}
