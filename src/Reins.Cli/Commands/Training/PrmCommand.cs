using System.CommandLine;
using System.Text.Json.Nodes;
using Reins.Alignment.Online;
using Reins.Alignment.ProcessRewardModeling;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Rewards.ProcessRewards;
using Spectre.Console;

namespace Reins.Cli.Commands.Training;

/// <summary>`reins prm`: train a process reward model on step-wise labels, or score solutions step by step with one (`prm score`).</summary>
internal static class PrmCommand
{
    public static Command Create()
    {
        var cmd = new Command("prm", "Train a process reward model (a two-label …ForTokenClassification head judging each step) on step-wise records {prompt, completions, labels} or Math-Shepherd's {input, label}.");
        var cli = new TrainerCli<PrmConfig>(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            var config = cli.Config(r);
            var (model, tokenizer) = cli.LoadModel(r);
            var (train, eval) = cli.Datasets<StepwiseExample>(r);
            var trainer = new PrmTrainer(config, model, new TokenizerEncoder(tokenizer), train, eval, tokenizer.Save);
            return Task.FromResult(cli.Run(r, "prm", trainer, cancellation));
        });
        cmd.Add(Score());
        cmd.Add(Label());
        return cmd;
    }

    private static Command Label()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint directory of the policy that completes solutions (with its tokenizer).", Required = true };
        var input = new Option<string>("--input") { Description = "JSONL of problems: \"prompt\" with \"completions\" (a solution's steps), or \"prompt\" alone with --solutions; other fields (answer, …) reach the verifier.", Required = true };
        var output = new Option<string>("--output") { Description = "Step-wise JSONL written ({prompt, completions, labels} plus the record's fields), one line per solution.", Required = true };
        var n = new Option<int>("--n") { Description = "Completions sampled from each step's prefix.", DefaultValueFactory = _ => 8 };
        var estimate = new Option<string>("--estimate") { Description = "hard: a step is correct when any completion from it reaches a correct answer (booleans); soft: the fraction that does (numbers in [0, 1]; reins prm trains on booleans only, as TRL).", DefaultValueFactory = _ => "hard" };
        estimate.AcceptOnlyFromAmong("hard", "soft");
        var solutions = new Option<int?>("--solutions") { Description = "Sample this many solutions per problem from the policy (split into steps at the separator) instead of reading them from \"completions\"." };
        var separator = new Option<string>("--step-separator") { Description = "What ends each step in the policy's text.", DefaultValueFactory = _ => ProcessRewardModel.DefaultSeparator };
        var correct = new Option<float>("--correct-score") { Description = "A completion whose verifier score reaches this is correct.", DefaultValueFactory = _ => 1f };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run from OUTPUT.partial (labels are seeded per record, so the result is the same)." };
        var seed = CommonOptions.Seed();
        var threads = CommonOptions.Threads();
        var cmd = new Command("label", "Math-Shepherd step labels without people: each step is labelled by whether completions sampled from it reach an answer the verifier accepts.")
            { model, input, output, n, estimate, solutions, separator, correct, resume, seed, threads };
        var sampling = new SettingsOptions<SamplingSettings>(cmd);
        var rewards = new RewardOptions(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var settings = sampling.Resolve(r);
            settings.Validate();
            var (policy, tokenizer) = HfCheckpoint.LoadWithTokenizer(r.GetValue(model)!);
            var records = JsonlDatasetReader.Load<PromptOnlyExample>(r.GetValue(input)!, new DatasetReadOptions { Format = DatasetFormat.PromptOnly });
            var kind = r.GetValue(estimate) == "soft" ? StepEstimate.Soft : StepEstimate.Hard;
            int? sampled = r.GetValue(solutions);
            if (sampled is < 1) throw new ArgumentException("--solutions: must be at least 1.");
            var verifier = rewards.Build(r, out var resources);
            using (resources)
            {
                var labeler = new MathShepherdLabeler(policy, new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true), verifier,
                    settings.Options(r.GetValue(n), r.GetValue(seed)).Validate(), r.GetValue(separator)!, r.GetValue(correct));
                string outPath = r.GetValue(output)!;
                using var partial = PartialJsonl.Open(outPath, r.GetValue(resume));
                int written = 0, emptySamples = 0;
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn()).Start(ctx =>
                {
                    var task = ctx.AddTask("prm label", maxValue: records.Examples.Count);
                    for (int i = partial.Done; i < records.Examples.Count && !cancellation.IsCancellationRequested; i++)
                    {
                        var record = records.Examples[i];
                        IReadOnlyList<IReadOnlyList<string>> steps = sampled is { } k ? labeler.SampleSolutions(record, i, k) : [Steps(record, r.GetValue(input)!)];
                        if (sampled is { } wanted) emptySamples += wanted - steps.Count;
                        var lines = steps.Select((s, j) => Record(labeler.Label(record, i, j, s, cancellation), kind).ToJsonString()).ToArray();
                        partial.Append(lines);
                        written += lines.Length;
                        task.Value = i + 1;
                    }
                });
                if (cancellation.IsCancellationRequested)
                {
                    Console.Error.WriteLine($"prm label: interrupted after {partial.Done} of {records.Examples.Count} problems; rerun with --resume to continue.");
                    return Task.FromResult(130);
                }
                partial.Complete();
                Console.Error.WriteLine($"prm label: {written} solutions labelled{(sampled is null ? "" : $" ({emptySamples} sampled solutions had no step and were skipped)")} → {outPath}");
            }
            return Task.FromResult(0);
        });
        return cmd;
    }

    // A problem's given solution: the "completions" field, a list of steps.
    private static IReadOnlyList<string> Steps(PromptOnlyExample record, string path) =>
        record.Extra.TryGetValue("completions", out var c) && c.ValueKind == System.Text.Json.JsonValueKind.Array
            && c.EnumerateArray().Select(e => e.ValueKind == System.Text.Json.JsonValueKind.String ? e.GetString() : null).ToArray() is { Length: > 0 } steps
            && steps.All(s => !string.IsNullOrWhiteSpace(s))
            ? [.. steps.Select(s => s!)]
            : throw new InvalidDataException($"{path}:{record.Line}: field \"completions\": expected a non-empty list of non-empty steps (or give --solutions K to sample them).");

    private static JsonObject Record(LabelledSolution solution, StepEstimate kind)
    {
        var o = new JsonObject();
        foreach (var (key, value) in solution.Extra)
            if (key != "completions") o[key] = JsonNode.Parse(value.GetRawText());
        o["prompt"] = solution.Problem;
        o["completions"] = new JsonArray([.. solution.Steps.Select(s => (JsonNode?)s)]);
        o["labels"] = new JsonArray([.. solution.Labels(kind).Select(l => l is bool b ? JsonValue.Create(b) : (JsonNode?)JsonValue.Create((double)l))]);
        return o;
    }

    private static Command Score()
    {
        var model = new Option<string>("--model") { Description = "Process reward model directory (…ForTokenClassification, with its tokenizer and prm_config.json).", Required = true };
        var input = new Option<string>("--input") { Description = "JSONL of solutions: \"problem\" (or \"prompt\") and \"steps\" (or \"completions\"); other fields are kept.", Required = true };
        var output = new Option<string>("--output") { Description = "JSONL written with each record's fields plus step_scores, P(correct) per step (null for a step beyond the model's positions).", Required = true };
        var batchSize = new Option<int>("--batch-size") { Description = "Solutions per forward pass.", DefaultValueFactory = _ => 16 };
        var threads = CommonOptions.Threads();
        var cmd = new Command("score", "Score each step of each solution with a process reward model; one output line per input record, in order.") { model, input, output, batchSize, threads };
        cmd.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var prm = ProcessRewardModel.Load(r.GetValue(model)!);
            string outputPath = r.GetValue(output)!, temporary = outputPath + ".tmp";
            int records = 0, steps = 0, unscored = 0;
            using (var writer = new StreamWriter(temporary))
                foreach (var chunk in StepRecords.Read(r.GetValue(input)!).Chunk(256))
                {
                    var scores = prm.StepScores([.. chunk.Select(c => c.Solution)], r.GetValue(batchSize), cancellation);
                    for (int i = 0; i < chunk.Length; i++)
                    {
                        chunk[i].Fields["step_scores"] = new JsonArray([.. scores[i].Select(s => s is { } p ? JsonValue.Create(p) : null)]);
                        writer.WriteLine(chunk[i].Fields.ToJsonString());
                        steps += scores[i].Length;
                        unscored += scores[i].Count(s => s is null);
                    }
                    records += chunk.Length;
                }
            File.Move(temporary, outputPath, overwrite: true);
            Console.Error.WriteLine($"prm score: {records} records, {steps} steps ({unscored} beyond the model's {prm.Network.Config.MaxPositions} positions, scored null) → {outputPath}");
            return Task.FromResult(0);
        });
        return cmd;
    }
}
