using System.Text;

namespace Reins.Farm.Report.Charts;

/// <summary>
/// An inline-SVG grouped bar chart: one group per category, one bar per series, optional interval whiskers; dot series
/// are drawn over the group as points (e.g. each seed beside the mean over seeds).
/// </summary>
internal sealed class BarChart(string title, string yLabel, IReadOnlyList<string> categories)
{
    private sealed record Series(string Name, IReadOnlyList<double> Values, IReadOnlyList<double[]?>? Intervals, string Colour, bool Dots = false);

    private readonly List<Series> series = [];
    private readonly List<(double Value, string Label)> references = [];

    /// <summary>Adds one value per category, with an optional [low, high] interval per value.</summary>
    public BarChart Add(string name, IReadOnlyList<double> values, string colour, IReadOnlyList<double[]?>? intervals = null) =>
        AddSeries(new Series(name, values, intervals, colour));

    /// <summary>Adds one point per category, drawn over the category's bars.</summary>
    public BarChart AddDots(string name, IReadOnlyList<double> values, string colour) => AddSeries(new Series(name, values, null, colour, Dots: true));

    private BarChart AddSeries(Series added)
    {
        if (added.Values.Count != categories.Count) throw new ArgumentException($"{added.Values.Count} values for {categories.Count} categories");
        series.Add(added);
        return this;
    }

    /// <summary>Adds a dashed horizontal line at <paramref name="value"/>.</summary>
    public BarChart Reference(double value, string label)
    {
        references.Add((value, label));
        return this;
    }

    /// <summary>The chart as one &lt;svg&gt; element.</summary>
    public string Render()
    {
        var values = series.SelectMany(s => s.Values.Concat(s.Intervals?.Where(i => i is not null).SelectMany(i => i!) ?? []))
            .Concat(references.Select(r => r.Value)).Where(double.IsFinite).Append(0).ToList();
        var y = new LinearScale(values.Min(), values.Max(), Svg.Bottom, Svg.Top);

        var sb = new StringBuilder();
        Svg.Begin(sb, title);
        Svg.YAxis(sb, y, yLabel);
        if (categories.Count == 0 || series.Count == 0) Svg.NoData(sb);
        double band = (Svg.Right - Svg.Left) / Math.Max(1, categories.Count);
        var bars = series.Where(s => !s.Dots).ToList();
        var dots = series.Where(s => s.Dots).ToList();
        double barWidth = band * 0.8 / Math.Max(1, bars.Count);
        double zero = y.Map(0);
        for (int c = 0; c < categories.Count; c++)
        {
            double left = Svg.Left + c * band + band * 0.1;
            for (int s = 0; s < bars.Count; s++)
            {
                double v = bars[s].Values[c];
                if (!double.IsFinite(v)) continue;
                double bx = left + s * barWidth, top = Math.Min(zero, y.Map(v));
                sb.Append($"<rect x=\"{Svg.N(bx)}\" y=\"{Svg.N(top)}\" width=\"{Svg.N(barWidth - 1)}\" height=\"{Svg.N(Math.Abs(y.Map(v) - zero))}\" fill=\"{bars[s].Colour}\" fill-opacity=\"{(dots.Count > 0 ? "0.35" : "1")}\"><title>{Html.Escape($"{categories[c]} {bars[s].Name}: {v:0.###}")}</title></rect>");
                if (bars[s].Intervals?[c] is [var low, var high])
                {
                    double mid = bx + barWidth / 2;
                    sb.Append($"<path d=\"M{Svg.N(mid)},{Svg.N(y.Map(low))}V{Svg.N(y.Map(high))}M{Svg.N(mid - 4)},{Svg.N(y.Map(low))}h8M{Svg.N(mid - 4)},{Svg.N(y.Map(high))}h8\" {Svg.WhiskerStyle}/>");
                }
            }
            // Points spread across the middle of the group so that equal values stay apart.
            for (int s = 0; s < dots.Count; s++)
            {
                double v = dots[s].Values[c];
                if (!double.IsFinite(v)) continue;
                double dx = Svg.Left + (c + 0.5) * band + (s - (dots.Count - 1) / 2.0) * Math.Min(8, band * 0.6 / Math.Max(1, dots.Count));
                sb.Append($"<circle cx=\"{Svg.N(dx)}\" cy=\"{Svg.N(y.Map(v))}\" r=\"3.5\" fill=\"{dots[s].Colour}\" stroke=\"#fff\" stroke-width=\"0.8\"><title>{Html.Escape($"{categories[c]} {dots[s].Name}: {v:0.###}")}</title></circle>");
            }
            double lx = Svg.Left + (c + 0.5) * band, ly = Svg.Bottom + 14;
            sb.Append($"<text x=\"{Svg.N(lx)}\" y=\"{Svg.N(ly)}\" text-anchor=\"end\" transform=\"rotate(-30 {Svg.N(lx)} {Svg.N(ly)})\">{Html.Escape(categories[c])}</text>");
        }
        Svg.ReferenceLines(sb, y, references);
        Svg.Legend(sb, [.. series.Select(s => (s.Name, s.Colour, false))]);
        Svg.End(sb);
        return sb.ToString();
    }
}
