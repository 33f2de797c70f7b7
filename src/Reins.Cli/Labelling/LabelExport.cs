using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reins.Cli.Labelling;

/// <summary>
/// Labels out as data: "majority" and "soft" give TRL preference records (the side most annotators chose; soft adds
/// the share that chose it as preference_probability), "raw" one record per label. Check items are left out of the
/// preference records; pairs whose votes tie (or that only got tie / both-bad answers) are left out and counted. An LLM
/// judge's labels vote only when asked (includeJudges); the raw export always has them, marked "judge": true.
/// </summary>
internal static class LabelExport
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static (List<string> Lines, int Undecided) Lines(LabelStore store, string format, bool includeJudges = false)
    {
        var labels = store.Labels();
        if (format == "raw")
            return ([.. labels.Select(l => new JsonObject
            {
                ["pair_id"] = l.PairId, ["annotator"] = l.Annotator, ["choice"] = l.Choice, ["shown_swapped"] = l.Swapped,
                ["ratings"] = l.Ratings is null ? null : JsonNode.Parse(l.Ratings), ["reason"] = l.Reason, ["created"] = l.Created, ["judge"] = l.ByJudge,
            }.ToJsonString(Json))], 0);
        if (format is not ("majority" or "soft")) throw new ArgumentException($"label export: --format is majority, soft or raw, not '{format}'.");
        var byPair = labels.Where(l => includeJudges || !l.ByJudge).GroupBy(l => l.PairId).ToDictionary(g => g.Key, g => g.ToList());
        var lines = new List<string>();
        int undecided = 0;
        foreach (var pair in store.Pairs().Where(p => p.CheckAnswer is null && byPair.ContainsKey(p.Id)))
        {
            var votes = byPair[pair.Id];
            int a = votes.Count(v => v.Choice == "a"), b = votes.Count(v => v.Choice == "b");
            if (a == b) { undecided++; continue; }
            bool aWins = a > b;
            var record = new JsonObject
            {
                ["pair_id"] = pair.Id, ["prompt"] = pair.Prompt,
                ["chosen"] = aWins ? pair.ResponseA : pair.ResponseB, ["rejected"] = aWins ? pair.ResponseB : pair.ResponseA,
                ["labels"] = votes.Count,
            };
            if (format == "soft") record["preference_probability"] = Math.Round((double)Math.Max(a, b) / (a + b), 6);
            lines.Add(record.ToJsonString(Json));
        }
        return (lines, undecided);
    }
}
