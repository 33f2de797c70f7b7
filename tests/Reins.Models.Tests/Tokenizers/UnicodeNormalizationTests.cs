using System.IO.Compression;
using System.Text;
using Reins.Models.Tokenizers;

namespace Reins.Models.Tests.Tokenizers;

/// <summary>NFC/NFD/NFKC/NFKD against a sample of Unicode's own conformance file, NormalizationTest.txt.</summary>
public class UnicodeNormalizationTests
{
    [Fact]
    public void Conformance_invariants_hold_for_the_sampled_lines()
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(Fixtures.PathOf("tokenizers/NormalizationTest.sample.txt.gz")), CompressionMode.Decompress));
        int checkedLines = 0;
        var failures = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith('@')) continue;
            var c = line.Split(';').Take(5).Select(column => string.Concat(column.Split(' ').Select(h => char.ConvertFromUtf32(Convert.ToInt32(h, 16))))).ToArray();
            string Nfc(int i) => UnicodeNormalization.Normalize(c[i], NormalizationForm.FormC);
            string Nfd(int i) => UnicodeNormalization.Normalize(c[i], NormalizationForm.FormD);
            string Nfkc(int i) => UnicodeNormalization.Normalize(c[i], NormalizationForm.FormKC);
            string Nfkd(int i) => UnicodeNormalization.Normalize(c[i], NormalizationForm.FormKD);
            // The conformance rules stated at the top of NormalizationTest.txt.
            bool ok = c[1] == Nfc(0) && c[1] == Nfc(1) && c[1] == Nfc(2) && c[3] == Nfc(3) && c[3] == Nfc(4)
                && c[2] == Nfd(0) && c[2] == Nfd(1) && c[2] == Nfd(2) && c[4] == Nfd(3) && c[4] == Nfd(4)
                && Enumerable.Range(0, 5).All(i => c[3] == Nfkc(i) && c[4] == Nfkd(i));
            if (!ok && failures.Count < 10) failures.Add(line);
            checkedLines++;
        }
        Assert.True(checkedLines > 4000, $"only {checkedLines} lines read");
        Assert.True(failures.Count == 0, "failing lines:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void Text_without_combining_characters_comes_back_as_the_same_instance()
    {
        const string text = "plain ASCII and Latin-1 café";
        Assert.Same(text, UnicodeNormalization.Normalize(text, NormalizationForm.FormC));
    }
}
