using Reins.Tensors;

namespace Reins.Cli.Demo;

/// <summary>
/// A seeded grammar of short English sentences, tokenised as bytes: enough structure that a tiny model's loss
/// falls visibly within a few hundred steps, and nothing to download. (The farm's tasks replace it later.)
/// </summary>
internal static class TinyCorpus
{
    private static readonly string[] Adjectives = ["little", "red", "happy", "old", "quiet", "bright", "tired", "clever"];
    private static readonly string[] Nouns = ["cat", "dog", "bird", "farmer", "horse", "child", "teacher", "fox"];
    private static readonly string[] Verbs = ["sees", "helps", "follows", "finds", "likes", "calls", "watches", "feeds"];
    private static readonly string[] Places = ["in the barn", "near the river", "on the hill", "at the market", "under the tree"];

    /// <summary>About <paramref name="bytes"/> bytes of generated text.</summary>
    public static byte[] Generate(int bytes, ulong seed)
    {
        var rng = new Rng(seed);
        string Pick(string[] xs) => xs[rng.NextInt(xs.Length)];
        var sb = new System.Text.StringBuilder(bytes + 100);
        while (sb.Length < bytes)
        {
            sb.Append("the ").Append(Pick(Adjectives)).Append(' ').Append(Pick(Nouns)).Append(' ').Append(Pick(Verbs))
              .Append(" the ").Append(Pick(Nouns));
            if (rng.NextInt(2) == 0) sb.Append(' ').Append(Pick(Places));
            sb.Append(". ");
        }
        return System.Text.Encoding.ASCII.GetBytes(sb.ToString());
    }
}
