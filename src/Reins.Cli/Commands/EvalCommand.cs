using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Feedback.Sampling;
using Reins.Rewards.Critics;
using Reins.Rewards.Evaluation;
using Reins.Rewards.ProcessRewards;

namespace Reins.Cli.Commands;

/// <summary>`reins eval`: benchmarks run on a trained model (`eval processbench`).</summary>
internal static class EvalCommand
{
    public static Command Create() => new("eval", "Evaluate a trained model on a benchmark.") { ProcessBenchCommand(), WinRateCommand.Create() };

    private static Command ProcessBenchCommand()
    {
        var model = new Option<string?>("--model") { Description = "Process reward model directory (or give --critic)." };
        var critic = new Option<string?>("--critic") { Description = "Generative critic directory: its verdict is the prediction, a critique without one counts as wrong." };
        var inputs = new Option<string[]>("--input") { Description = "ProcessBench JSONL ({problem, steps, label}); repeat for several subsets (gsm8k, math, olympiadbench, omnimath).", Required = true, AllowMultipleArgumentsPerToken = false };
        var output = new Option<string>("--output") { Description = "Directory written with processbench.json and predictions.jsonl.", Required = true };
        var threshold = new Option<string>("--threshold") { Description = "A step scored below it is the predicted earliest error; 'auto' picks it on a held-out half of the records (seeded), which is then left out of the scores.", DefaultValueFactory = _ => "0.5" };
        var threads = CommonOptions.Threads();
        var cmd = new Command("processbench", "ProcessBench: predict each solution's earliest wrong step with a process reward model or a generative critic; error accuracy, correct accuracy and their F1 per input, and the average F1.")
            { model, critic, inputs, output, threshold, threads };
        var critics = new CritiqueCommand.CriticOptions(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            if (r.GetValue(model) is null == r.GetValue(critic) is null) throw new ArgumentException("eval processbench: give either --model (a process reward model) or --critic (a generative critic).");
            string thresholdText = r.GetValue(threshold)!;
            double? given = thresholdText == "auto" ? null
                : double.TryParse(thresholdText, NumberStyles.Float, CultureInfo.InvariantCulture, out double t) && t is > 0 and < 1 ? t
                : throw new ArgumentException($"--threshold: '{thresholdText}' is neither 'auto' nor a number in (0, 1).");
            var subsets = r.GetValue(inputs)!.Select(path => (Path: path, Items: ProcessBench.Read(path))).ToArray();
            if (r.GetValue(critic) is { } criticDir)
            {
                if (given is null) throw new ArgumentException("--threshold auto: a generative critic names its step; there is no threshold to choose.");
                EvaluateCritic(critics.Load(r, criticDir), critics.BatchSize(r), subsets, criticDir, r.GetValue(output)!, cancellation);
                return Task.FromResult(0);
            }
            var prm = ProcessRewardModel.Load(r.GetValue(model)!);
            var scored = subsets.Select(s => prm.StepScores([.. s.Items.Select(i => i.Record.Solution)], critics.BatchSize(r), cancellation)).ToArray();

            // With 'auto', a seeded half of all records chooses the threshold and only the other half is scored.
            var all = subsets.SelectMany((s, k) => s.Items.Select((item, i) => (Subset: k, Index: i))).ToArray();
            var calibration = new HashSet<(int, int)>();
            ulong seed = critics.Sampling(r).Seed;
            if (given is null)
                foreach (int i in Permutation.Shuffled(all.Length, seed)[..(all.Length / 2)]) calibration.Add(all[i]);
            double chosen = given ?? ProcessBench.ChooseThreshold([.. calibration.Select(c => (subsets[c.Item1].Items[c.Item2].Label, (IReadOnlyList<float?>)scored[c.Item1][c.Item2]))]);

            var report = new JsonObject
            {
                ["model"] = r.GetValue(model), ["threshold"] = chosen,
                ["threshold_source"] = given is null ? $"auto: the F1-best on a grid of 0.005 … 0.995 over {calibration.Count} held-out records (seed {seed}); the scores below are over the other {all.Length - calibration.Count}" : "given",
            };
            Report(report, subsets, r.GetValue(output)!, (k, i) =>
            {
                var scores = scored[k][i];
                bool held = calibration.Contains((k, i));
                var detail = new JsonObject
                {
                    ["split"] = held ? "calibration" : "test",
                    ["step_scores"] = new JsonArray([.. scores.Select(s => s is { } p ? JsonValue.Create(p) : null)]),
                };
                return (ProcessBench.Prediction(scores, chosen), held, scores.Count(s => s is null), detail);
            }, $"threshold {chosen:G3}");
            return Task.FromResult(0);
        });
        return cmd;
    }

    // A critic's verdict is its prediction; a critique without one predicts no index (-2), wrong on every solution.
    private static void EvaluateCritic(GenerativeCritic critic, int batchSize, (string Path, IReadOnlyList<ProcessBench.Item> Items)[] subsets, string criticDir, string output,
        CancellationToken cancellation)
    {
        var critiques = subsets.Select(s => critic.Judge([.. s.Items.Select(i => i.Record.Solution)], batchSize, cancellation)).ToArray();
        var report = new JsonObject { ["critic"] = criticDir, ["verdict_pattern"] = critic.Format.VerdictPattern, ["prompts_cut_to_fit"] = critic.Report.PromptsTruncated };
        int missing = critiques.Sum(c => c.Count(x => x.Verdict is null));
        Report(report, subsets, output, (k, i) => (critiques[k][i].Verdict ?? -2, false, 0,
            new JsonObject { ["critique"] = critiques[k][i].Text, ["verdict"] = critiques[k][i].Verdict }), $"{missing} critiques without a verdict");
    }

    // The metrics of each input, pooled and averaged, and every prediction: judge(subset, index) gives the prediction,
    // whether the record is held out of the scores, its unscored steps and the fields describing it.
    private static void Report(JsonObject report, (string Path, IReadOnlyList<ProcessBench.Item> Items)[] subsets, string output,
        Func<int, int, (int Prediction, bool HeldOut, int Unscored, JsonObject Detail)> judge, string note)
    {
        var subsetReports = new JsonArray();
        var pooled = new List<(int, int)>();
        var predictions = new List<JsonObject>();
        for (int k = 0; k < subsets.Length; k++)
        {
            var outcomes = new List<(int, int)>();
            int unscored = 0;
            for (int i = 0; i < subsets[k].Items.Count; i++)
            {
                var item = subsets[k].Items[i];
                var (prediction, held, missing, detail) = judge(k, i);
                if (!held) outcomes.Add((item.Label, prediction));
                unscored += missing;
                var row = new JsonObject
                {
                    ["input"] = subsets[k].Path, ["line"] = item.Record.Line, ["id"] = item.Record.Fields["id"]?.DeepClone(),
                    ["label"] = item.Label, ["prediction"] = prediction,
                };
                foreach (var (key, value) in detail) row[key] = value?.DeepClone();
                predictions.Add(row);
            }
            pooled.AddRange(outcomes);
            var subset = Metrics(ProcessBenchResult.Of(outcomes));
            subset["input"] = subsets[k].Path;
            subset["steps_beyond_model_positions"] = unscored;
            subsetReports.Add(subset);
        }
        foreach (var (key, value) in Metrics(ProcessBenchResult.Of(pooled))) report[key] = value?.DeepClone();
        report["subsets"] = subsetReports;
        var f1s = subsetReports.Select(s => s!["f1"]?.GetValue<double>()).ToArray();
        report["average_f1"] = f1s.All(f => f is not null) ? f1s.Average(f => f!.Value) : null;
        WriteOutput(output, report, predictions);
        Console.Error.WriteLine($"eval processbench: {note}, F1 {Show(report["f1"])} (error accuracy {Show(report["error_accuracy"])}, correct accuracy {Show(report["correct_accuracy"])}), average F1 over {subsets.Length} input(s) {Show(report["average_f1"])} → {output}");
    }

    private static string Show(JsonNode? value) => value is null ? "n/a" : value.GetValue<double>().ToString("F3", CultureInfo.InvariantCulture);

    private static JsonObject Metrics(ProcessBenchResult result) => new()
    {
        ["error_accuracy"] = result.ErrorAccuracy, ["correct_accuracy"] = result.CorrectAccuracy, ["f1"] = result.F1,
        ["erroneous"] = result.Erroneous, ["correct"] = result.Correct, ["error_hits"] = result.ErrorHits, ["correct_hits"] = result.CorrectHits,
    };

    // Both files appear together or not at all: written into a staging directory that is renamed into place.
    private static void WriteOutput(string directory, JsonObject report, List<JsonObject> predictions)
    {
        var full = Path.GetFullPath(directory);
        var staging = full + $".tmp-{Environment.ProcessId}";
        Directory.CreateDirectory(staging);
        File.WriteAllText(Path.Combine(staging, "processbench.json"), report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllLines(Path.Combine(staging, "predictions.jsonl"), predictions.Select(p => p.ToJsonString()));
        if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
        Directory.Move(staging, full);
    }
}
