using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Alignment.BestOfN;
using Reins.Alignment.Online;
using Reins.Cli.Commands.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins bon`: best-of-n sampling of a prompt-only JSONL scored by the reward flags, written as a prompt–completion
/// JSONL (each record's fields kept, plus reward, rewards, rank and finish_reason) that `reins sft` trains on directly.
/// </summary>
internal static class BestOfNCommand
{
    // Completions are text to read: keep "+", "<" and non-ASCII as they are rather than as \u escapes.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint directory of the policy (with its tokenizer).", Required = true };
        var input = new Option<string>("--input") { Description = "Prompt-only JSONL ({\"prompt\": …} plus any fields the reward reads).", Required = true };
        var output = new Option<string>("--output") { Description = "JSONL written: the kept completions, best first per prompt.", Required = true };
        var n = new Option<int>("--n") { Description = "Completions sampled per prompt.", DefaultValueFactory = _ => 4 };
        var keepTop = new Option<int>("--keep-top") { Description = "Completions kept per prompt (the highest rewards).", DefaultValueFactory = _ => 1 };
        var batchSize = new Option<int>("--batch-size") { Description = "Prompts per generation call.", DefaultValueFactory = _ => 8 };
        var skipInvalid = new Option<bool>("--skip-invalid") { Description = "Skip (and count) malformed lines instead of stopping." };
        var voting = new Option<string>("--voting") { Description = "none: keep the highest rewards; majority: the most frequent final answer; weighted: the answer with the largest summed reward (e.g. --prm scores). Voting keeps one completion per prompt.", DefaultValueFactory = _ => "none" };
        voting.AcceptOnlyFromAmong("none", "majority", "weighted");
        var seed = CommonOptions.Seed();
        var threads = CommonOptions.Threads();
        var cmd = new Command("bon", "Best-of-n sampling: n completions per prompt, ranked by the reward, the best written as an SFT dataset.")
            { model, input, output, n, keepTop, batchSize, skipInvalid, voting, seed, threads };
        var sampling = new SettingsOptions<SamplingSettings>(cmd);
        var rewards = new RewardOptions(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var settings = sampling.Resolve(r);
            settings.Validate();
            string dir = r.GetValue(model)!;
            var (policy, tokenizer) = HfCheckpoint.LoadWithTokenizer(dir);
            var prompts = JsonlDatasetReader.Load<PromptOnlyExample>(r.GetValue(input)!, new DatasetReadOptions { SkipInvalid = r.GetValue(skipInvalid) });
            Console.Error.WriteLine($"dataset: {prompts.Report}");
            var reward = rewards.Build(r, out var resources);
            using (resources)
            {
                var sampler = new CompletionSampler(new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true), reward, settings.MaxPromptLength);
                var options = settings.Options(r.GetValue(n), r.GetValue(seed)).Validate();
                string outPath = r.GetValue(output)!, tmp = outPath + ".tmp";
                int written = 0;
                double total = 0;
                using (var writer = new StreamWriter(tmp))
                    foreach (var kept in BestOfNSampler.Sample(policy, sampler, prompts.Examples, options, r.GetValue(keepTop), r.GetValue(batchSize), settings.MissingEosPenalty, cancellation,
                        Enum.Parse<Voting>(r.GetValue(voting)!, ignoreCase: true)))
                    {
                        writer.WriteLine(Record(kept).ToJsonString(Readable));
                        written++;
                        total += kept.Reward;
                    }
                File.Move(tmp, outPath, overwrite: true);
                Console.Error.WriteLine($"bon: {written} completions of {prompts.Examples.Count} prompts (best {r.GetValue(keepTop)} of {r.GetValue(n)}), mean reward {total / Math.Max(1, written):G4} → {outPath}" +
                    (cancellation.IsCancellationRequested ? " (cancelled: partial)" : ""));
            }
            return Task.FromResult(0);
        });
        return cmd;
    }

    // The prompt record with the completion in TRL's prompt–completion format (an assistant message for conversations).
    private static JsonObject Record(BestOfNCompletion kept)
    {
        var o = new JsonObject();
        foreach (var (key, value) in kept.Source.Extra) o[key] = JsonNode.Parse(value.GetRawText());
        var prompt = kept.Source.Prompt;
        string text = kept.Sample.Text!;
        o["prompt"] = prompt.Messages is { } messages ? Messages(messages.Select(m => (m.Role, m.Content))) : prompt.Text;
        o["completion"] = prompt.IsConversational ? Messages([("assistant", text)]) : text;
        o["reward"] = kept.Reward;
        o["rewards"] = new JsonObject(kept.Rewards.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)(float.IsNaN(kv.Value) ? null : kv.Value))));
        o["rank"] = kept.Rank;
        if (kept.Votes is { } votes) o["votes"] = votes;
        o["finish_reason"] = kept.Sample.FinishReason.ToString().ToLowerInvariant();
        return o;
    }

    private static JsonArray Messages(IEnumerable<(string Role, string Content)> messages) =>
        new([.. messages.Select(m => (JsonNode?)new JsonObject { ["role"] = m.Role, ["content"] = m.Content })]);
}
