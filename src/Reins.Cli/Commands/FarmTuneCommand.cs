using System.CommandLine;
using Reins.Alignment.Training;
using Reins.Farm.Pipeline;
using Reins.Farm.Tasks;
using Reins.Farm.Tuning;
using Spectre.Console;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins farm tune`: each method's settings searched by successive halving on the development seeds, selected on the
/// evaluator pool's win-rate against SFT on development prompts; trials in tune/trials.jsonl, resumable.
/// </summary>
internal static class FarmTuneCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = string.Join(", ", FarmTasks.All.Select(t => t.Name)) + ".", DefaultValueFactory = _ => "reviews" };
        var methods = new Option<string?>("--methods") { Description = "Methods to tune, comma-separated (default: " + string.Join(",", SearchSpace.All.Select(m => m.Method)) + ")." };
        var budget = new Option<long?>("--budget") { Description = "Completions every online method samples in training (steps = budget / online batch); default: the config's." };
        var seeds = new Option<string?>("--seeds") { Description = "Development seeds, one successive-halving rung each (default: the config's development_seeds); a test seed is refused." };
        var output = new Option<string?>("--out") { Description = "Output directory (default runs/farm-tune/<task>); rerun with the same settings to resume." };
        var configFile = FarmCommand.ConfigOption();
        var quick = new Option<bool>("--quick") { Description = "Tune the quick form of the config (a preview of the search; its config is not one to commit)." };
        var writeConfig = new Option<string?>("--write-config")
        {
            Description = "Also write the tuned config here (no value: farm/configs/<task>.json, which `reins farm` then runs once rebuilt).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var threads = CommonOptions.Threads();
        var cmd = new Command("tune", "Tune each method's settings on the development seeds (successive halving; selected on the evaluators' win-rate vs SFT, never on gold).")
            { task, methods, budget, seeds, output, configFile, quick, writeConfig, threads };
        cmd.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var farmTask = FarmTasks.Get(r.GetValue(task)!);
            var config = FarmCommand.ResolveConfig(farmTask, r.GetValue(configFile));
            if (r.GetValue(quick)) config = FarmConfig.QuickOf(config);
            if (r.GetValue(budget) is { } samples) config = config.WithOnlineBudget(samples);
            var searches = r.GetValue(methods) is { } list
                ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(SearchSpace.Of).ToArray()
                : SearchSpace.All;
            var tuneSeeds = r.GetValue(seeds) is { } given ? FarmCommand.ParseSeeds(given) : [.. config.DevelopmentSeeds];
            string dir = r.GetValue(output) ?? Path.Combine("runs", "farm-tune", farmTask.Name);

            var console = FarmCommand.StderrConsole();
            console.MarkupLine($"[bold]reins farm tune[/]: task {farmTask.Name}, development seeds {string.Join(",", tuneSeeds)}, " +
                $"budget {config.Online.Steps * config.Online.BatchSize:N0} completions per online method → {Markup.Escape(Path.GetFullPath(dir))}");
            TuningOutcome outcome;
            try
            {
                outcome = FarmCommand.WithStageBars(console, console.Progress().AutoClear(true).HideCompleted(true), progress =>
                    new FarmTuner(farmTask, config, tuneSeeds, searches, dir, line => console.MarkupLine($"  [grey]{Markup.Escape(line)}[/]"), progress)
                    {
                        TrialFinished = t => console.MarkupLine(Markup.Escape(
                            $"  rung {t.Rung} · {t.Method} {MethodSearch.Describe(t.Settings)} · seed {t.Seed}: win-rate {t.WinRateVsSft:F3} " +
                            $"[{t.WinRateVsSftCi[0]:F3}, {t.WinRateVsSftCi[1]:F3}], gold {t.GoldReward:F3}, KL {t.KlToSft:F2} ({t.Seconds:F0} s)")),
                        Cancellation = cancellation,
                    }.Run());
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                Console.Error.WriteLine($"reins farm tune: stopped; the finished trials are in {Path.Combine(Path.GetFullPath(dir), FarmTuner.TuneDirectory, "trials.jsonl")}; run the same command again to resume.");
                return Task.FromResult(130);
            }
            console.MarkupLine($"chosen on the mean development win-rate over seeds {string.Join(",", tuneSeeds)} ({outcome.Trials.Count} trials):");
            foreach (var m in outcome.Methods)
                console.MarkupLine(Markup.Escape($"  {m.Method}: {MethodSearch.Describe(m.Settings)} (win-rate {m.WinRateVsSft:F3}, gold {m.GoldReward:F3})" +
                    (m.AtGridEdge.Count > 0 ? $"; at the edge of the grid: {string.Join(", ", m.AtGridEdge)}" : "")));
            console.MarkupLine($"tuned config: {Markup.Escape(Path.Combine(Path.GetFullPath(dir), FarmTuner.TuneDirectory, "config.json"))}");
            if (r.GetResult(writeConfig) is not null)
            {
                string path = r.GetValue(writeConfig) ?? Path.Combine("farm", "configs", farmTask.Name + ".json");
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                RunDirectory.WriteAtomically(path, outcome.Config.ToJson() + "\n");
                console.MarkupLine($"written to {Markup.Escape(Path.GetFullPath(path))}");
            }
            return Task.FromResult(0);
        });
        return cmd;
    }
}
