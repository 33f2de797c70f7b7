using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Alignment.Detection;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins detector stream`: JailbreaksOverTime's replay of a timestamped prompt stream against a jailbreak detector (a
/// cost model over prompts, trained with `reins cm` on <c>{"prompt": "", "response": PROMPT, "is_safe"}</c> records),
/// each period evaluated before the retrained detectors learn from it. Writes periods.jsonl (one row per period) and
/// summary.json (each detector's mean FNR over the evaluated periods) into --output, beside the retrained models and the
/// replay's state, from which --resume continues a replay that stopped.
/// </summary>
internal static class DetectorCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The detector: a …ForSequenceClassification checkpoint of one output (a score above 0 means jailbreak).", Required = true };
        var input = new Option<string>("--input") { Description = "The stream: JSONL of {\"time\", \"prompt\", \"label\"?} (label true/1 for a jailbreak).", Required = true };
        var output = new Option<string>("--output") { Description = "Directory for periods.jsonl, summary.json and the retrained detectors.", Required = true };
        var retrain = new Option<RetrainPeriod>("--retrain") { Description = "Period between evaluations and retrainings: daily, weekly or monthly.", DefaultValueFactory = _ => RetrainPeriod.Weekly };
        var selfTrain = new Option<bool>("--self-train") { Description = "Also replay a detector retrained on its own confident labels (no new human labels)." };
        var trueLabels = new Option<bool>("--true-labels") { Description = "Also replay a detector retrained on the stream's labels (the upper line)." };
        var fpr = new Option<double>("--fpr") { Description = "False-positive rate the threshold is set for on the benign prompts of earlier periods.", DefaultValueFactory = _ => 0.001 };
        var epochs = new Option<int>("--epochs") { Description = "Epochs over the labels gathered so far at each retraining.", DefaultValueFactory = _ => 1 };
        var learningRate = new Option<float>("--learning-rate") { Description = "Learning rate of each retraining.", DefaultValueFactory = _ => 1e-4f };
        var benignQuantile = new Option<double>("--benign-quantile") { Description = "Self-training labels a prompt benign at or under this quantile of the benign calibration scores (jailbreak above the threshold; the rest unlabelled).", DefaultValueFactory = _ => 0.5 };
        var batch = new Option<int>("--batch-size") { Description = "Prompts per training and scoring batch.", DefaultValueFactory = _ => 8 };
        var resume = new Option<bool>("--resume") { Description = "Continue a replay that stopped, after its last finished period (the same stream and settings)." };
        var seed = CommonOptions.Seed();
        var threads = CommonOptions.Threads();
        var stream = new Command("stream", "JailbreaksOverTime's replay: per period, FNR at a fixed FPR of the static detector and (with --self-train, --true-labels) of retrained ones, each period evaluated before retraining on it.")
            { model, input, output, retrain, selfTrain, trueLabels, fpr, epochs, learningRate, benignQuantile, batch, resume, seed, threads };
        stream.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var prompts = StreamPrompt.ReadJsonl(r.GetValue(input)!);
            var (detector, tokenizer) = HfCheckpoint.LoadWithTokenizer(r.GetValue(model)!);
            var settings = new DetectorStreamSettings
            {
                Period = r.GetValue(retrain), TargetFpr = r.GetValue(fpr), SelfTrain = r.GetValue(selfTrain), TrueLabels = r.GetValue(trueLabels), Epochs = r.GetValue(epochs),
                LearningRate = r.GetValue(learningRate), BenignQuantile = r.GetValue(benignQuantile), BatchSize = r.GetValue(batch), Seed = r.GetValue(seed),
            };
            string directory = r.GetValue(output)!;
            Directory.CreateDirectory(directory);
            string periods = Path.Combine(directory, "periods.jsonl");
            // A resumed replay keeps the rows of the periods it finished; the state file holds them too.
            var rows = r.GetValue(resume) && File.Exists(Path.Combine(directory, DetectorStream.StateFile)) && File.Exists(periods) ? File.ReadAllLines(periods).ToList() : [];
            var results = new DetectorStream(settings, new TokenizerEncoder(tokenizer), tokenizer.Save).Run(detector, prompts, directory, result =>
            {
                rows = [.. rows.Take(result.Period), JsonSerializer.Serialize(DetectorStream.Row(result))];
                RunDirectory.WriteAtomically(periods, string.Concat(rows.Select(row => row + "\n")));
                Console.Error.WriteLine($"detector: period {result.Period} ({result.Start:yyyy-MM-dd}, {result.Prompts} prompts): " +
                    string.Join(", ", result.Detectors.Select(d => $"{d.Key} FNR {d.Value.Fnr:F3}")));
            }, cancellation, r.GetValue(resume));
            var summary = new JsonObject { ["fpr"] = settings.TargetFpr, ["periods"] = results.Count, ["retrain"] = settings.Period.ToString().ToLowerInvariant() };
            foreach (var name in results[0].Detectors.Keys)
            {
                var evaluated = results.Select(x => x.Detectors[name].Fnr).Where(double.IsFinite).ToArray();
                summary[$"{name}/mean_fnr"] = evaluated.Length == 0 ? null : evaluated.Average();
            }
            RunDirectory.WriteAtomically(Path.Combine(directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return Task.FromResult(0);
        });
        return new Command("detector", "Jailbreak detectors under drift.") { stream };
    }
}
