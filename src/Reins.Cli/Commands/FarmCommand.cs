using System.CommandLine;
using System.Diagnostics;
using Reins.Alignment.Training;
using Reins.Farm.Pipeline;
using Reins.Farm.Report;
using Reins.Farm.Tasks;
using Reins.Feedback.Annotators;
using Reins.Rewards.Judges;
using Spectre.Console;

namespace Reins.Cli.Commands;

/// <summary>`reins farm`: the whole RLHF loop on a simulated task, ending with a results table, results.json and report.html.</summary>
internal static class FarmCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = string.Join(", ", FarmTasks.All.Select(t => t.Name)) + ".", DefaultValueFactory = _ => "reviews" };
        var quick = new Option<bool>("--quick") { Description = "The config with every stage and method given fewer steps and prompts (≤ 1 minute); its method settings kept." };
        var seed = CommonOptions.Seed();
        var seeds = new Option<string?>("--seeds") { Description = "Seeds, one run each: a list, ranges or both (1,2,3 or 1-5 or 1-3,7); overrides --seed." };
        var output = new Option<string>("--out") { Description = "Output directory.", DefaultValueFactory = _ => "runs/farm" };
        var configFile = ConfigOption();
        var threads = CommonOptions.Threads();
        var judge = new JudgeCommand.JudgeOptions("judge-");
        var cmd = new Command("farm", "Simulate RLHF end to end: pre-train, SFT, annotate pairs, reward models, nine methods, evaluation, report.")
            { task, quick, seed, seeds, output, configFile, threads, FarmTuneCommand.Create() };
        // An LLM judge at --judge-endpoint joins the training annotator pool as one more member (the evaluators stay simulated).
        foreach (var option in judge.All) cmd.Options.Add(option);
        cmd.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var farmTask = FarmTasks.Get(r.GetValue(task)!);
            var config = ResolveConfig(farmTask, r.GetValue(configFile));
            if (r.GetValue(quick)) config = FarmConfig.QuickOf(config);
            var runSeeds = r.GetValue(seeds) is { } list ? ParseSeeds(list) : [r.GetValue(seed)];
            // Development seeds are for tuning, the others for reporting: one summary never holds both.
            if (runSeeds.Select(config.SplitOf).Distinct().Count() > 1)
                throw new ArgumentException($"--seeds: {string.Join(",", runSeeds)} mixes development seeds ({string.Join(",", config.DevelopmentSeeds)}) with test seeds; run them apart.");
            var runs = new List<(FarmResults, PerPromptValues)>();
            using var llm = judge.Create(r, Path.Combine(r.GetValue(output)!, "judge-cache.sqlite"));
            IReadOnlyList<IPairwiseAnnotator> external = llm is null ? [] : [new LlmAnnotator(llm)];
            var console = StderrConsole();
            foreach (var s in runSeeds)
            {
                string dir = runSeeds.Length == 1 ? r.GetValue(output)! : Path.Combine(r.GetValue(output)!, $"seed-{s}");
                var clock = Stopwatch.StartNew();
                console.MarkupLine($"[bold]reins farm[/]: task {farmTask.Name}, seed {s}{(r.GetValue(quick) ? ", quick" : "")} → {Markup.Escape(Path.GetFullPath(dir))}");
                // One bar per stage while the run goes; the stage summaries are printed once the bars are done.
                var lines = new List<string>();
                FarmResults results;
                try
                {
                    results = WithStageBars(console, console.Progress().AutoClear(false),
                        progress => new FarmPipeline(farmTask, config, s, dir, line => lines.Add($"{clock.Elapsed:mm\\:ss} {line}"), progress, cancellation) { ExternalAnnotators = external }.Run());
                }
                catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
                {
                    Console.Error.WriteLine($"reins farm: stopped during seed {s}; its results were not written{(runs.Count > 0 ? $" (seeds {string.Join(",", runs.Select(x => x.Item1.Seed))} were)" : "")}.");
                    return Task.FromResult(130);
                }
                foreach (var line in lines) console.MarkupLine($"  [grey]{Markup.Escape(line)}[/]");
                // Redirected, the table is Markdown, one line per method.
                if (Console.IsErrorRedirected) Console.Error.Write(MarkdownTable(results));
                else console.Write(Table(results));
                console.MarkupLine($"finished in {clock.Elapsed:mm\\:ss}; report: {Markup.Escape(Path.Combine(Path.GetFullPath(dir), HtmlReport.FileName))}");
                runs.Add((results, PerPromptValues.Read(dir)));
            }
            if (runs.Count < 2) return Task.FromResult(0);
            var summary = FarmSummary.From(runs);
            string path = summary.Write(r.GetValue(output)!);
            RunDirectory.WriteAtomically(Path.Combine(r.GetValue(output)!, HtmlReport.SummaryFileName), HtmlReport.RenderSummary(summary));
            Console.Error.WriteLine($"\n{summary.Split} seeds {string.Join(",", summary.Seeds)} (summary: {Path.GetFullPath(path)}, {HtmlReport.SummaryFileName} beside it):");
            foreach (var finding in summary.Findings) Console.Error.WriteLine($"- {finding}");
            return Task.FromResult(0);
        });
        return cmd;
    }

    /// <summary>A console on stderr; redirected to a file or a CI log, which has no width, its lines are not wrapped at 80 columns.</summary>
    internal static IAnsiConsole StderrConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected) console.Profile.Width = 4096;
        return console;
    }

    /// <summary>Runs <paramref name="run"/> under <paramref name="display"/> with a bar per stage it reports (a stage's name, its step of its total).</summary>
    internal static T WithStageBars<T>(IAnsiConsole console, Progress display, Func<IProgress<FarmProgress>, T> run)
    {
        T result = default!;
        display.Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn()).Start(ctx =>
        {
            var bars = new Dictionary<string, ProgressTask>();
            result = run(new SynchronousProgress<FarmProgress>(p =>
            {
                if (!bars.TryGetValue(p.Stage, out var bar)) bars[p.Stage] = bar = ctx.AddTask(Markup.Escape(p.Stage), maxValue: p.Total);
                bar.MaxValue = p.Total;
                bar.Value = p.Step;
            }));
        });
        return result;
    }

    /// <summary>--config: a config file instead of the task's own.</summary>
    internal static Option<string?> ConfigOption() => new("--config")
    {
        Description = "A farm config file (results.json's \"config\" keys; keys left out keep the frozen default's), e.g. farm/configs/untuned.json. " +
            "Default: the task's tuned config (farm/configs/<task>.json, built in) or, for a task never tuned, the frozen default.",
    };

    /// <summary>The config of <paramref name="file"/>, or the task's own.</summary>
    internal static FarmConfig ResolveConfig(IFarmTask task, string? file) => file is null ? FarmConfig.ForTask(task.Name) : FarmConfig.Load(file);

    /// <summary>Seeds from "1,2,3", "1-5" or a mix ("1-3,7"), in the order given; a repeated seed or a bad part is an error naming it.</summary>
    internal static ulong[] ParseSeeds(string text)
    {
        var seeds = new List<ulong>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var bounds = part.Split('-', StringSplitOptions.TrimEntries);
            if (bounds.Length is < 1 or > 2 || !bounds.All(b => ulong.TryParse(b, out _)))
                throw new ArgumentException($"--seeds: '{part}' is neither a seed nor a range like 1-5.");
            ulong first = ulong.Parse(bounds[0]), last = ulong.Parse(bounds[^1]);
            if (last < first || last - first >= 10_000) throw new ArgumentException($"--seeds: '{part}' is not an ascending range of at most 10,000 seeds.");
            for (ulong s = first; s <= last; s++)
            {
                if (seeds.Contains(s)) throw new ArgumentException($"--seeds: seed {s} is given twice.");
                seeds.Add(s);
            }
        }
        return [.. seeds];
    }

    // The table's columns and each method's cells, shared by the terminal and the Markdown form.
    private static (string[] Header, List<string[]> Rows, string Caption) Cells(FarmResults results)
    {
        bool safety = results.Methods.Any(m => m.HarmfulRate is not null);
        string[] header = ["method", "gold reward (95% CI)", "proxy reward", "KL to SFT", "win-rate vs SFT", "LC win-rate", .. safety ? new[] { "harmful", "over-refusal" } : [], "length", "samples", "s"];
        var rows = results.Methods.Select(m => (string[])[m.Name, $"{m.GoldReward:F3} [{m.GoldRewardCi[0]:F3}, {m.GoldRewardCi[1]:F3}]", $"{m.ProxyReward:F3}",
            m.KlBound is null ? $"{m.KlToSft:F2}" : $"≤ {m.KlToSft:F2}", $"{m.WinRateVsSft:F3}", $"{m.LcWinRateVsSft:F3}",
            .. safety ? new[] { $"{m.HarmfulRate:F3}", $"{m.OverRefusalRate:F3}" } : [], $"{m.MeanLength:F1}", $"{m.Samples:N0}", $"{m.Seconds:F0}"]).ToList();
        return (header, rows, $"annotators: agreement with gold {results.Annotators.AgreementWithGold:P1}, inter-annotator {results.Annotators.InterAnnotator:P1}");
    }

    private static Table Table(FarmResults results)
    {
        var (header, rows, caption) = Cells(results);
        var table = new Table().AddColumns(header);
        foreach (var row in rows) table.AddRow([.. row.Select(Markup.Escape)]);
        return table.Caption(caption);
    }

    /// <summary>The results table as Markdown, one line per method whatever its width.</summary>
    internal static string MarkdownTable(FarmResults results)
    {
        var (header, rows, caption) = Cells(results);
        static string Line(IEnumerable<string> cells) => "| " + string.Join(" | ", cells) + " |\n";
        return Line(header) + Line(header.Select(_ => "---")) + string.Concat(rows.Select(Line)) + "\n" + caption + "\n";
    }
}
