using Reins.Tensors;

namespace Reins.Cli.Demo;

/// <summary>
/// Seeded English-like prose for tokenizer benchmarks: common words drawn with a Zipf-like skew, capitalised
/// sentences, commas, numbers, contractions and paragraphs, so that pre-token lengths and cache hit rates
/// resemble real text. Nothing to download and the same bytes on every machine.
/// </summary>
internal static class EnglishSample
{
    private static readonly string[] Words = (
        "the of and to a in is it you that he was for on are with as I his they be at one have this from or had by " +
        "not word but what some we can out other were all there when up use your how said an each she which do their " +
        "time if will way about many then them write would like so these her long make thing see him two has look more " +
        "day could go come did number sound no most people my over know water than call first who may down side been now " +
        "find any new work part take get place made live where after back little only round man year came show every good " +
        "me give our under name very through just form sentence great think say help low line differ turn cause much mean " +
        "before move right boy old too same tell does set three want air well also play small end put home read hand port " +
        "large spell add even land here must big high such follow act why ask men change went light kind off need house " +
        "picture try us again animal point mother world near build self earth father head stand own page should country " +
        "found answer school grow study still learn plant cover food sun four between state keep eye never last let thought " +
        "city tree cross farm hard start might story saw far sea draw left late run while press close night real life few " +
        "north open seem together next white children begin got walk example ease paper group always music those both mark " +
        "often letter until mile river car feet care second book carry took science eat room friend began idea fish mountain " +
        "stop once base hear horse cut sure watch color face wood main enough plain girl usual young ready above ever red list " +
        "though feel talk bird soon body dog family direct pose leave song measure door product black short numeral class wind " +
        "question happen complete ship area half rock order fire south problem piece told knew pass since top whole king space " +
        "heard best hour better true during hundred five remember step early hold west ground interest reach fast verb sing " +
        "listen six table travel less morning ten simple several vowel toward war lay against pattern slow center love person " +
        "money serve appear road map rain rule govern pull cold notice voice unit power town fine certain fly fall lead cry dark " +
        "machine note wait plan figure star box noun field rest correct able pound done beauty drive stood contain front teach " +
        "week final gave green oh quick develop ocean warm free minute strong special mind behind clear tail produce fact street " +
        "inch multiply nothing course stay wheel full force blue object decide surface deep moon island foot system busy test " +
        "record boat common gold possible plane stead dry wonder laugh thousand ago ran check game shape equate hot miss brought " +
        "heat snow tire bring yes distant fill east paint language among reward policy feedback preference annotator").Split(' ');

    private static readonly string[] Contractions = ["don't", "it's", "I'm", "we'll", "they're", "can't", "you've", "she'd"];

    /// <summary>About <paramref name="bytes"/> bytes of text, as paragraphs separated by blank lines.</summary>
    public static string Generate(int bytes, ulong seed)
    {
        var rng = new Rng(seed);
        var text = new System.Text.StringBuilder(bytes + 1024);
        while (text.Length < bytes)
        {
            int sentences = 3 + rng.NextInt(6);
            for (int s = 0; s < sentences; s++)
            {
                int length = 5 + rng.NextInt(20);
                for (int w = 0; w < length; w++)
                {
                    // The product of two uniform draws favours the front of the list, as word frequencies do.
                    string word = rng.NextInt(40) == 0 ? Contractions[rng.NextInt(Contractions.Length)]
                        : rng.NextInt(60) == 0 ? (rng.NextInt(100_000) / (rng.NextInt(3) == 0 ? 100.0 : 1)).ToString(System.Globalization.CultureInfo.InvariantCulture)
                        : Words[(int)((long)rng.NextInt(Words.Length) * rng.NextInt(Words.Length) / Words.Length)];
                    if (w == 0) word = char.ToUpperInvariant(word[0]) + word[1..];
                    text.Append(word);
                    text.Append(w == length - 1 ? (rng.NextInt(8) == 0 ? "? " : ". ") : rng.NextInt(12) == 0 ? ", " : " ");
                }
            }
            text.Append("\n\n");
        }
        return text.ToString();
    }
}
