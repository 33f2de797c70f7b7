using System.Globalization;
using System.Text;
using Reins.Alignment.Training;
using Reins.Farm.Report.Charts;

namespace Reins.Farm.Report;

/// <summary>
/// report.html: one self-contained page (inline CSS and SVG, nothing fetched) with the results table, the reward–KL
/// frontier, the over-optimisation curves, win-rate bars with intervals, annotator agreement, training curves and
/// example responses. The markup is also well-formed XML, so it can be checked by an XML parser.
/// </summary>
public static class HtmlReport
{
    /// <summary>The file name inside a run's output directory.</summary>
    public const string FileName = "report.html";

    /// <summary>Raw agreement between AlpacaFarm's human annotators (Dubois et al. 2023), drawn for comparison.</summary>
    public const double HumanAgreement = 0.65;

    private const string Style =
        "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}" +
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}" +
        "th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}" +
        "td.response{white-space:pre-wrap;font-family:monospace;max-width:22em}" +
        "svg.chart{display:block;margin:1em 0}";

    /// <summary>The page as a string; <paramref name="taskDescription"/> is shown under the title when given.</summary>
    public static string Render(FarmResults results, IReadOnlyList<TrainingCurve> curves, IReadOnlyList<ExampleResponse> examples, string? taskDescription = null)
    {
        var sb = new StringBuilder();
        string heading = $"Reins farm: {results.Task}, seed {results.Seed}";
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>")
          .Append($"<title>{Html.Escape(heading)}</title><style>{Style}</style></head><body>")
          .Append($"<h1>{Html.Escape(heading)}</h1>");
        if (taskDescription is not null) sb.Append($"<p>{Html.Escape(taskDescription)}</p>");

        sb.Append("<h2>Results</h2>");
        ResultsTable(sb, results);

        sb.Append("<h2>Reward against KL</h2>").Append(Frontier(results));
        sb.Append("<h2>Over-optimisation</h2>")
          .Append(Overoptimization(results, "Gold reward against sqrt(KL)", "gold reward", p => p.GoldReward, dashed: false))
          .Append(Overoptimization(results, "Proxy reward against sqrt(KL)", "proxy reward", p => p.ProxyReward, dashed: true));
        sb.Append("<h2>Win-rate against SFT</h2>").Append(WinRates(results));
        sb.Append("<h2>Annotator agreement</h2>").Append(Agreement(results.Annotators));
        if (results.ProcessSupervision is { } process) ProcessSupervision(sb, process);
        if (results.Safety is { } safety) Safety(sb, results, safety);
        if (results.Cyclic is { } cyclic) Cyclic(sb, cyclic);
        if (results.Pluralistic is { } pluralistic) Pluralistic(sb, pluralistic);

        sb.Append("<h2>Training curves</h2>");
        if (curves.Count == 0) sb.Append("<p>No training metrics were logged.</p>");
        foreach (var byMetric in curves.GroupBy(c => (c.Metric, c.X)))
        {
            // On a verifiable task the online methods' reward is the gold checker's: against completions sampled it is
            // accuracy (at temperature 1, less the missing-EOS penalty) against the budget spent.
            var chart = byMetric.Key.X == "episode"
                ? new XyChart($"{byMetric.Key.Metric} against completions sampled", "completions sampled", byMetric.Key.Metric)
                : new XyChart(byMetric.Key.Metric, byMetric.Key.X, byMetric.Key.Metric);
            foreach (var (curve, i) in byMetric.Select((c, i) => (c, i)))
                chart.Add(curve.Method, curve.Points.Select(p => new ChartPoint(p.Step, p.Value)), MethodColour(curve.Method, i));
            sb.Append(chart.Render());
        }

        sb.Append("<h2>Example responses</h2>");
        Examples(sb, examples);
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    /// <summary>The file name of a multi-seed run's page, beside its summary.json.</summary>
    public const string SummaryFileName = "summary.html";

    /// <summary>
    /// A multi-seed run's page: what the run shows (the summary's computed findings), each method's gold reward and
    /// win-rate per seed beside the mean over seeds with its hierarchical interval, and the table of the same numbers.
    /// </summary>
    public static string RenderSummary(FarmSummary summary)
    {
        var sb = new StringBuilder();
        string heading = $"Reins farm: {summary.Task}, {summary.Split} seeds {string.Join(", ", summary.Seeds)}";
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>")
          .Append($"<title>{Html.Escape(heading)}</title><style>{Style}</style></head><body>")
          .Append($"<h1>{Html.Escape(heading)}</h1><h2>What this run shows</h2><ul>");
        foreach (var finding in summary.Findings) sb.Append($"<li>{Html.Escape(finding)}</li>");
        sb.Append("</ul><p>Computed from the intervals below: means over seeds, 95% intervals from a hierarchical bootstrap (seeds, then prompts within each seed).</p>");
        var names = summary.Methods.Select(m => m.Name).ToList();
        var gold = new BarChart("Gold reward: the mean over seeds with its interval, a dot per seed", "gold reward", names)
            .Add("mean", [.. summary.Methods.Select(m => m.Gold)], Svg.Colour(0), [.. summary.Methods.Select(m => m.GoldCi)]);
        var win = new BarChart("Win-rate against SFT: the mean over seeds with its interval", "win-rate", names)
            .Add("mean", [.. summary.Methods.Select(m => m.WinRate)], Svg.Colour(0), [.. summary.Methods.Select(m => m.WinRateCi)]).Reference(0.5, "SFT");
        for (int s = 0; s < summary.Seeds.Count; s++)
            gold.AddDots($"seed {summary.Seeds[s]}", [.. summary.Methods.Select(m => m.PerSeedGold[s])], Svg.Colour(s + 1));
        sb.Append(gold.Render()).Append(win.Render());
        sb.Append("<table><tr><th>method</th><th>gold reward</th><th>95% CI</th><th>gold − SFT, 95% CI</th><th>win-rate vs SFT</th><th>95% CI</th>")
          .Append("<th>proxy reward</th><th>KL to SFT</th><th>gold per seed</th></tr>");
        foreach (var m in summary.Methods)
            sb.Append($"<tr><td>{Html.Escape(m.Name)}</td><td class=\"num\">{F(m.Gold)}</td><td class=\"num\">{Interval(m.GoldCi)}</td>")
              .Append($"<td class=\"num\">{Interval(m.GoldMinusSftCi)}</td><td class=\"num\">{F(m.WinRate)}</td><td class=\"num\">{Interval(m.WinRateCi)}</td>")
              .Append($"<td class=\"num\">{F(m.ProxyReward)}</td><td class=\"num\">{F(m.KlToSft)}</td><td class=\"num\">{string.Join(" / ", m.PerSeedGold.Select(F))}</td></tr>");
        sb.Append("</table></body></html>\n");
        return sb.ToString();
    }

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/> and returns its path.</summary>
    public static string Write(string directory, FarmResults results, IReadOnlyList<TrainingCurve> curves, IReadOnlyList<ExampleResponse> examples, string? taskDescription = null)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName);
        RunDirectory.WriteAtomically(path, Render(results, curves, examples, taskDescription));
        return path;
    }

    private static string F(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    private static string Interval(double[]? ci) => ci is [var low, var high] ? $"[{F(low)}, {F(high)}]" : "";

    /// <summary>A method keeps its colour in every chart; unknown names take colours after the known ones.</summary>
    private static string MethodColour(string method, int fallback)
    {
        int known = MethodNames.All.ToList().IndexOf(method);
        return Svg.Colour(known >= 0 ? known : MethodNames.All.Count + fallback);
    }

    private static void ResultsTable(StringBuilder sb, FarmResults results)
    {
        sb.Append("<table><tr><th>method</th><th>gold reward</th><th>95% CI</th><th>proxy reward</th><th>KL to SFT</th>")
          .Append("<th>KL bound</th><th>win-rate vs SFT</th><th>95% CI</th><th>LC win-rate</th><th>mean length</th><th>seconds</th></tr>");
        foreach (var m in results.Methods)
            sb.Append($"<tr><td>{Html.Escape(m.Name)}</td><td class=\"num\">{F(m.GoldReward)}</td><td class=\"num\">{Interval(m.GoldRewardCi)}</td>")
              .Append($"<td class=\"num\">{F(m.ProxyReward)}</td><td class=\"num\">{F(m.KlToSft)}</td><td class=\"num\">{(m.KlBound is { } b ? F(b) : "")}</td>")
              .Append($"<td class=\"num\">{F(m.WinRateVsSft)}</td><td class=\"num\">{Interval(m.WinRateVsSftCi)}</td><td class=\"num\">{F(m.LcWinRateVsSft)}</td>")
              .Append($"<td class=\"num\">{m.MeanLength.ToString("0.0", CultureInfo.InvariantCulture)}</td><td class=\"num\">{m.Seconds.ToString("0.0", CultureInfo.InvariantCulture)}</td></tr>");
        sb.Append("</table>");
    }

    // Best-of-n by selector against n, ProcessBench's scores per judge, and the two PPO runs' gold accuracy against steps.
    private static void ProcessSupervision(StringBuilder sb, ProcessSupervisionResults process)
    {
        sb.Append("<h2>Process supervision</h2>")
          .Append($"<p>{process.Traces} training traces; Math-Shepherd's labels agree with the gold checker on {F(process.LabelAgreement)} of their steps.</p>");
        var bestOfN = new XyChart("Best-of-n gold accuracy (95% CI)", "n", "gold accuracy");
        foreach (var (selector, i) in process.BestOfN.GroupBy(p => p.Selector).Select((g, i) => (g, i)))
            bestOfN.Add(selector.Key, selector.Select(p => new ChartPoint(p.N, p.Accuracy, p.Interval[0], p.Interval[1])), Svg.Colour(i));
        sb.Append(bestOfN.Render());
        sb.Append("<table><tr><th>judge</th><th>ProcessBench F1</th><th>error accuracy</th><th>correct accuracy</th><th>wrong traces</th><th>right traces</th></tr>");
        string Maybe(double? value) => value is { } v ? F(v) : "n/a";
        foreach (var row in process.ProcessBench)
            sb.Append($"<tr><td>{Html.Escape(row.Judge)}</td><td class=\"num\">{Maybe(row.F1)}</td><td class=\"num\">{Maybe(row.ErrorAccuracy)}</td>")
              .Append($"<td class=\"num\">{Maybe(row.CorrectAccuracy)}</td><td class=\"num\">{row.Erroneous}</td><td class=\"num\">{row.Correct}</td></tr>");
        sb.Append("</table>");
        var ppo = new XyChart("PPO: dense (PRM step rewards) against outcome (ORM) reward", "step", "gold accuracy");
        foreach (var (reward, i) in process.Ppo.GroupBy(p => p.Reward).Select((g, i) => (g, i)))
            ppo.Add(reward.Key, reward.Select(p => new ChartPoint(p.Step, p.Accuracy)), Svg.Colour(i));
        sb.Append(ppo.Render());
    }

    // The safety study: the Pareto view of helpfulness against harm, each method's rates and safety test, λ, the drift replay.
    private static void Safety(StringBuilder sb, FarmResults results, SafetyResults safety)
    {
        sb.Append("<h2>Safety</h2>")
          .Append($"<p>{safety.SafetyPairs} pairs labelled for safety (is_safe labels right {F(safety.LabelAgreement)}); the cost model's sign agrees with the gold cost on ")
          .Append($"{F(safety.CostModelAccuracy)} of held-out SFT responses. Constraint: expected cost-model cost at most {F(safety.Threshold)}; ppo_shaped's weight {F(safety.CostWeight)}.</p>");
        var pareto = new XyChart("Helpfulness against harm (gold reward, 95% CI, against harmful rate)", "harmful rate", "gold reward");
        foreach (var (m, i) in results.Methods.Where(m => m.HarmfulRate is not null).Select((m, i) => (m, i)))
            pareto.Add(m.Name, [new ChartPoint(m.HarmfulRate!.Value, m.GoldReward, m.GoldRewardCi[0], m.GoldRewardCi[1], m.Name)], MethodColour(m.Name, i), lines: false);
        sb.Append(pareto.Render());
        var tests = safety.SafetyTests.ToDictionary(t => t.Method);
        sb.Append($"<table><tr><th>method</th><th>gold reward</th><th>harmful rate</th><th>over-refusal rate</th><th>gold cost</th><th>mean cost (cost model)</th>")
          .Append($"<th>upper bound (δ {F(safety.Delta)})</th><th>safety test</th></tr>");
        foreach (var m in results.Methods.Where(m => m.HarmfulRate is not null))
        {
            var t = tests[m.Name];
            sb.Append($"<tr><td>{Html.Escape(m.Name)}</td><td class=\"num\">{F(m.GoldReward)}</td><td class=\"num\">{F(m.HarmfulRate!.Value)}</td>")
              .Append($"<td class=\"num\">{F(m.OverRefusalRate!.Value)}</td><td class=\"num\">{F(m.GoldCost!.Value)}</td><td class=\"num\">{F(t.MeanCost)}</td>")
              .Append($"<td class=\"num\">{F(t.UpperBound)}</td><td>{Html.Escape(t.Result)}</td></tr>");
        }
        sb.Append("</table>");
        var lambda = new XyChart("Lagrange multiplier over training", "step", "lambda");
        foreach (var (method, i) in safety.Lambda.GroupBy(p => p.Method).Select((g, i) => (g, i)))
            lambda.Add(method.Key, method.Select(p => new ChartPoint(p.Step, p.Lambda)), MethodColour(method.Key, i));
        sb.Append(lambda.Render());
        var drift = new XyChart($"Jailbreak detection under drift: FNR at {F(safety.DetectorFpr)} FPR, each week before retraining", "week", "false-negative rate");
        foreach (var (name, pick, i) in new (string, Func<DriftPeriod, double?>, int)[] { ("static", p => p.Static, 0), ("self-trained", p => p.SelfTrained, 1), ("true labels", p => p.TrueLabels, 2) })
            drift.Add(name, safety.JailbreakDrift.Where(p => pick(p) is not null).Select(p => new ChartPoint(p.Period, pick(p)!.Value)), Svg.Colour(i));
        sb.Append(drift.Render())
          .Append("<p>Jailbreak styles by week: ").Append(Html.Escape(string.Join("; ", safety.JailbreakDrift.Select(p => $"{p.Period}: {string.Join(" / ", p.Styles)}")))).Append("</p>");
    }

    // The cyclic study: each preference model's held-out accuracy on the cycle, each method's style mix and worst case.
    private static void Cyclic(StringBuilder sb, CyclicResults cyclic)
    {
        sb.Append("<h2>Preferences in a cycle</h2>")
          .Append($"<p>Accuracy on {cyclic.HeldOutPairs} held-out pairs of replies in different styles, a third for each relation of the cycle ")
          .Append("(a Bradley–Terry reward can fit at most two of the three): ")
          .Append(Html.Escape(string.Join(", ", cyclic.PairAccuracy.Select(a => $"{a.Model} {F(a.Accuracy)}")))).Append(".</p>");
        var styles = cyclic.StyleMix[0].Styles.Keys.ToArray();
        sb.Append("<table><tr><th>method</th>").Append(string.Concat(styles.Select(s => $"<th>{Html.Escape(s)}</th>")))
          .Append("<th>other</th><th>worst-case win-rate (½ = unexploitable)</th></tr>");
        foreach (var m in cyclic.StyleMix)
            sb.Append($"<tr><td>{Html.Escape(m.Method)}</td>").Append(string.Concat(styles.Select(s => $"<td class=\"num\">{F(m.Styles[s])}</td>")))
              .Append($"<td class=\"num\">{F(m.Other)}</td><td class=\"num\">{F(m.WorstCaseWinRate)}</td></tr>");
        sb.Append("</table>");
    }

    // The pluralistic study: the groups, the EM mixture's assignment, and each method's gold and win-rate for each group.
    private static void Pluralistic(StringBuilder sb, PluralisticResults pluralistic)
    {
        sb.Append("<h2>Groups that want different things</h2><p>")
          .Append(Html.Escape(string.Join("; ", pluralistic.Groups.Select(g => $"{g.Name}: {F(g.Share)} of the people, {g.Annotators} annotators"))))
          .Append($". The EM mixture put {F(pluralistic.AssignmentAccuracy)} of the annotators with their own group.</p>");
        var groups = pluralistic.Groups.Select(g => g.Name).ToArray();
        sb.Append("<table><tr><th>method</th>").Append(string.Concat(groups.Select(g => $"<th>{Html.Escape(g)} gold</th><th>{Html.Escape(g)} win-rate</th>"))).Append("</tr>");
        foreach (var m in pluralistic.Methods)
            sb.Append($"<tr><td>{Html.Escape(m.Method)}</td>")
              .Append(string.Concat(groups.Select(g => $"<td class=\"num\">{F(m.Groups[g].Gold)}</td><td class=\"num\">{(m.Groups[g].WinRate is { } w ? F(w) : "")}</td>")))
              .Append("</tr>");
        sb.Append("</table>");
    }

    private static string Frontier(FarmResults results)
    {
        var chart = new XyChart("Gold reward against KL(policy || SFT), 95% CI", "KL to SFT (nats)", "gold reward");
        foreach (var (m, i) in results.Methods.Select((m, i) => (m, i)))
        {
            var (low, high) = m.GoldRewardCi is [var l, var h] ? (l, h) : ((double?)null, (double?)null);
            chart.Add(m.Name, [new ChartPoint(m.KlToSft, m.GoldReward, low, high, m.Name)], MethodColour(m.Name, i), lines: false);
        }
        return chart.Render();
    }

    private static string Overoptimization(FarmResults results, string title, string yLabel, Func<OveroptimizationPoint, double> reward, bool dashed)
    {
        var chart = new XyChart(title, "sqrt(KL to SFT)", yLabel);
        foreach (var ((name, points), i) in results.Overoptimization.Curves().Select((c, i) => (c, i)))
            chart.Add(name, points.Select(p => new ChartPoint(p.SqrtKl, reward(p))), Svg.Colour(i), dashed: dashed);
        return chart.Render();
    }

    private static string WinRates(FarmResults results)
    {
        var names = results.Methods.Select(m => m.Name).ToList();
        return new BarChart("Win-rate against SFT (evaluator pool, ties count half)", "win-rate", names)
            .Add("win-rate", [.. results.Methods.Select(m => m.WinRateVsSft)], Svg.Colour(0), [.. results.Methods.Select(m => m.WinRateVsSftCi)])
            .Add("length-controlled", [.. results.Methods.Select(m => m.LcWinRateVsSft)], Svg.Colour(1))
            .Reference(0.5, "SFT")
            .Render();
    }

    private static string Agreement(AnnotatorResults annotators)
    {
        var measures = new List<(string Name, double Value)>
        {
            ("with gold", annotators.AgreementWithGold),
            ("inter-annotator", annotators.InterAnnotator),
        };
        if (annotators.CohensKappa is { } cohen) measures.Add(("Cohen's kappa", cohen));
        if (annotators.FleissKappa is { } fleiss) measures.Add(("Fleiss' kappa", fleiss));
        return new BarChart("Training annotator pool", "agreement", [.. measures.Select(m => m.Name)])
            .Add("pool", [.. measures.Select(m => m.Value)], Svg.Colour(2))
            .Reference(HumanAgreement, "AlpacaFarm humans agree 65%")
            .Render();
    }

    private static void Examples(StringBuilder sb, IReadOnlyList<ExampleResponse> examples)
    {
        if (examples.Count == 0) { sb.Append("<p>No examples.</p>"); return; }
        var methods = examples.Select(e => e.Method).Distinct().ToList();
        sb.Append("<table><tr><th>prompt</th>");
        foreach (var m in methods) sb.Append($"<th>{Html.Escape(m)}</th>");
        sb.Append("</tr>");
        foreach (var byPrompt in examples.GroupBy(e => e.Prompt))
        {
            sb.Append($"<tr><td class=\"response\">{Html.Escape(byPrompt.Key)}</td>");
            foreach (var m in methods)
            {
                var e = byPrompt.FirstOrDefault(x => x.Method == m);
                sb.Append(e is null ? "<td></td>" : $"<td class=\"response\">{Html.Escape(e.Response)}\n<small>gold {F(e.GoldReward)}</small></td>");
            }
            sb.Append("</tr>");
        }
        sb.Append("</table>");
    }
}
