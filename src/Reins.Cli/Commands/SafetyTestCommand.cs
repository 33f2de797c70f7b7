using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Cli.Commands.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Generation;
using Reins.Rewards.Evaluation;
using Reins.Rewards.Sources;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins safety-test`: HC-RLHF's safety test of a policy on held-out prompts — responses sampled, their costs taken
/// raw from a cost model, and the Student-t upper bound of the expected cost compared with the threshold. Exit code 0
/// for "pass", 3 for "no solution found"; the numbers go to safety_test.json.
/// </summary>
internal static class SafetyTestCommand
{
    /// <summary>The exit code of a policy whose bound exceeds the threshold.</summary>
    public const int NoSolutionFound = 3;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The policy's checkpoint directory.", Required = true };
        var costModel = new Option<string>("--cost-model") { Description = "The cost model (`reins cm`): a cost above 0 means unsafe.", Required = true };
        var prompts = new Option<string>("--prompts") { Description = "Held-out prompt-only JSONL, never trained on.", Required = true };
        var threshold = new Option<double>("--threshold") { Description = "The cost limit d: the test passes when the upper bound of the expected cost is at most d.", Required = true };
        var delta = new Option<double>("--delta") { Description = "δ: the bound holds with probability 1 − δ.", DefaultValueFactory = _ => 0.05 };
        var samples = new Option<int>("--samples-per-prompt") { Description = "Responses sampled per prompt (each counts as one cost).", DefaultValueFactory = _ => 1 };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Longest response.", DefaultValueFactory = _ => 64 };
        var train = new Option<string?>("--train-prompts") { Description = "The training prompts: a held-out file that shares any of them is refused (default: the data files recorded in the model's run directory, training_data.json)." };
        var output = new Option<string>("--output") { Description = "The JSON file written.", DefaultValueFactory = _ => "safety_test.json" };
        var seed = CommonOptions.Seed();
        var threads = CommonOptions.Threads();
        var cmd = new Command("safety-test", "HC-RLHF's safety test: the Student-t upper bound of a policy's expected cost on held-out prompts against a threshold; exit 0 = pass, 3 = no solution found.")
            { model, costModel, prompts, threshold, delta, samples, maxNewTokens, train, output, seed, threads };
        cmd.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var heldOut = JsonlDatasetReader.Load<PromptOnlyExample>(r.GetValue(prompts)!, new DatasetReadOptions { Format = DatasetFormat.PromptOnly }).Examples;
            if (r.GetValue(train) is { } given) RequireDisjoint(heldOut, TrainingPrompts(given), r.GetValue(prompts)!, given);
            else
                foreach (var recorded in TrainingData.Read(r.GetValue(model)!) ?? [])
                {
                    if (!File.Exists(recorded))
                        throw new FileNotFoundException($"{recorded}: recorded in {r.GetValue(model)}'s {TrainingData.FileName} as training data, but missing; pass --train-prompts FILE to check against it where it is now.");
                    // A recorded file without prompts (SFT text) has none to overlap with; say so rather than pass quietly.
                    IReadOnlyList<PromptOnlyExample> trained;
                    try { trained = TrainingPrompts(recorded); }
                    catch (DatasetException e)
                    {
                        Console.Error.WriteLine($"safety-test: {recorded} (recorded training data) holds no prompts to check the held-out file against: {e.Message}");
                        continue;
                    }
                    RequireDisjoint(heldOut, trained, r.GetValue(prompts)!, recorded);
                }
            string costDir = r.GetValue(costModel)!;
            var source = RewardModelSource.Cost(costDir);
            var (policy, tokenizer) = HfCheckpoint.LoadWithTokenizer(r.GetValue(model)!);
            int newTokens = r.GetValue(maxNewTokens);
            var sampler = new CompletionSampler(new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true), source, Math.Max(1, policy.Config.MaxPositions - newTokens));
            var tokenized = sampler.Tokenize(heldOut);
            var completions = sampler.GenerateAll(policy, tokenized, new SamplingOptions { MaxNewTokens = newTokens, NumReturnSequences = r.GetValue(samples), Seed = r.GetValue(seed) }, 16);
            var costs = sampler.Score(tokenized, completions, null, cancellation).Scores.Select(c => (double)c).ToArray();
            var test = SafetyTest.Run(costs, r.GetValue(threshold), r.GetValue(delta));
            var report = new JsonObject
            {
                ["result"] = test.Passed ? "pass" : "no solution found", ["n"] = test.N, ["mean_cost"] = test.MeanCost, ["std_cost"] = test.StdCost,
                ["t_quantile"] = test.TQuantile, ["upper_bound"] = test.UpperBound, ["threshold"] = test.Threshold, ["delta"] = test.Delta,
                ["model"] = r.GetValue(model), ["cost_model"] = costDir, ["prompts"] = r.GetValue(prompts), ["prompts_cut_to_fit"] = sampler.Report.PromptsTruncated,
            };
            string path = r.GetValue(output)!;
            RunDirectory.WriteAtomically(path, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Console.Error.WriteLine($"safety-test: {report["result"]}: upper bound {test.UpperBound:G4} of the expected cost (mean {test.MeanCost:G4} over {test.N} responses, δ {test.Delta}) against threshold {test.Threshold} → {path}");
            return Task.FromResult(test.Passed ? 0 : NoSolutionFound);
        });
        return cmd;
    }

    // The prompts of any training file: prompt-only records, or the prompts of pairs and completions (extra fields ignored).
    private static IReadOnlyList<PromptOnlyExample> TrainingPrompts(string path) =>
        JsonlDatasetReader.Load<PromptOnlyExample>(path, new DatasetReadOptions { Format = DatasetFormat.PromptOnly }).Examples;

    // A safety test on prompts the policy trained on says nothing about new ones.
    private static void RequireDisjoint(IReadOnlyList<PromptOnlyExample> heldOut, IReadOnlyList<PromptOnlyExample> train, string heldOutPath, string trainPath)
    {
        static string Key(PromptOnlyExample e) => e.Prompt.Text ?? JsonSerializer.Serialize(e.Prompt.Messages);
        var seen = train.Select(Key).ToHashSet();
        var shared = heldOut.Where(e => seen.Contains(Key(e))).ToArray();
        if (shared.Length > 0)
            throw new InvalidDataException($"{heldOutPath}: {shared.Length} of its {heldOut.Count} prompts are also in {trainPath} (the first on line {shared[0].Line}); a safety test needs prompts the policy never trained on.");
    }
}
