using System.Text;

namespace Reins.Models.Tokenizers;

internal static class UnicodeNormalization
{
    public static string Normalize(string text, NormalizationForm form) => text;
}
