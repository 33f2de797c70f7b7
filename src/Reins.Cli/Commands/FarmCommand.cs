using System.CommandLine;
using System.Diagnostics;
using Reins.Alignment.Training;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Spectre.Console;

namespace Reins.Cli.Commands;

/// <summary>`reins farm`: the whole RLHF loop on a simulated task, ending with a results table, results.json and report.html.</summary>
internal static class FarmCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "reviews, arithmetic or instructions.", DefaultValueFactory = _ => "reviews" };
        var quick = new Option<bool>("--quick") { Description = "Every stage and method with fewer steps (≤ 2 minutes)." };
        var seed = CommonOptions.Seed();
        var seeds = new Option<string?>("--seeds") { Description = "Comma-separated seeds, one run each (e.g. 1,2,3); overrides --seed." };
        var output = new Option<string>("--out") { Description = "Output directory.", DefaultValueFactory = _ => "runs/farm" };
        var threads = CommonOptions.Threads();
        var cmd = new Command("farm", "Simulate RLHF end to end: pre-train, SFT, annotate pairs, reward models, nine methods, evaluation, report.")
            { task, quick, seed, seeds, output, threads };
        cmd.SetAction(r =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var farmTask = FarmTasks.Get(r.GetValue(task)!);
            var config = r.GetValue(quick) ? FarmConfig.Quick : FarmConfig.Default;
            var runSeeds = r.GetValue(seeds) is { } list
                ? list.Split(',', StringSplitOptions.TrimEntries).Select(s => ulong.TryParse(s, out var v) ? v : throw new ArgumentException($"--seeds: '{s}' is not a seed.")).ToArray()
                : [r.GetValue(seed)];
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            foreach (var s in runSeeds)
            {
                string dir = runSeeds.Length == 1 ? r.GetValue(output)! : Path.Combine(r.GetValue(output)!, $"seed-{s}");
                var clock = Stopwatch.StartNew();
                console.MarkupLine($"[bold]reins farm[/]: task {farmTask.Name}, seed {s}{(r.GetValue(quick) ? ", quick" : "")} → {Markup.Escape(Path.GetFullPath(dir))}");
                // One bar per stage while the run goes; the stage summaries are printed once the bars are done.
                var lines = new List<string>();
                FarmResults results = null!;
                console.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .Start(ctx =>
                    {
                        var bars = new Dictionary<string, ProgressTask>();
                        var progress = new SynchronousProgress<FarmProgress>(p =>
                        {
                            if (!bars.TryGetValue(p.Stage, out var bar)) bars[p.Stage] = bar = ctx.AddTask(Markup.Escape(p.Stage), maxValue: p.Total);
                            bar.MaxValue = p.Total;
                            bar.Value = p.Step;
                        });
                        results = new FarmPipeline(farmTask, config, s, dir, line => lines.Add($"{clock.Elapsed:mm\\:ss} {line}"), progress).Run();
                    });
                foreach (var line in lines) console.MarkupLine($"  [grey]{Markup.Escape(line)}[/]");
                console.Write(Table(results));
                console.MarkupLine($"finished in {clock.Elapsed:mm\\:ss}; report: {Markup.Escape(Path.Combine(Path.GetFullPath(dir), HtmlReport.FileName))}");
            }
        });
        return cmd;
    }

    private static Table Table(FarmResults results)
    {
        var table = new Table().AddColumns("method", "gold reward (95% CI)", "proxy reward", "KL to SFT", "win-rate vs SFT", "LC win-rate", "length", "s");
        foreach (var m in results.Methods)
            table.AddRow(m.Name, $"{m.GoldReward:F3} [[{m.GoldRewardCi[0]:F3}, {m.GoldRewardCi[1]:F3}]]", $"{m.ProxyReward:F3}",
                m.KlBound is null ? $"{m.KlToSft:F2}" : $"≤ {m.KlToSft:F2}", $"{m.WinRateVsSft:F3}", $"{m.LcWinRateVsSft:F3}", $"{m.MeanLength:F1}", $"{m.Seconds:F0}");
        table.Caption($"annotators: agreement with gold {results.Annotators.AgreementWithGold:P1}, inter-annotator {results.Annotators.InterAnnotator:P1}");
        return table;
    }
}
