using System.Text;

namespace Reins.Farm.Report.Charts;

/// <summary>An inline-SVG chart of series against a numeric x axis: lines, markers, error bars and point labels.</summary>
internal sealed class XyChart(string title, string xLabel, string yLabel)
{
    private sealed record Series(string Name, IReadOnlyList<ChartPoint> Points, bool Lines, bool Dashed, string Colour);

    private readonly List<Series> series = [];
    private readonly List<(double Value, string Label)> references = [];

    /// <summary>Adds a series; <paramref name="lines"/> joins its points in x order, otherwise they are markers only.</summary>
    public XyChart Add(string name, IEnumerable<ChartPoint> points, string colour, bool lines = true, bool dashed = false)
    {
        series.Add(new Series(name, [.. points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).OrderBy(p => p.X)], lines, dashed, colour));
        return this;
    }

    /// <summary>Adds a dashed horizontal line at <paramref name="value"/>.</summary>
    public XyChart Reference(double value, string label)
    {
        references.Add((value, label));
        return this;
    }

    /// <summary>The chart as one &lt;svg&gt; element.</summary>
    public string Render()
    {
        var points = series.SelectMany(s => s.Points).ToList();
        var ys = points.SelectMany(p => new[] { p.Y, p.Low ?? p.Y, p.High ?? p.Y }).Concat(references.Select(r => r.Value)).ToList();
        var x = points.Count == 0 ? new LinearScale(0, 1, Svg.Left, Svg.Right) : new LinearScale(points.Min(p => p.X), points.Max(p => p.X), Svg.Left, Svg.Right);
        var y = ys.Count == 0 ? new LinearScale(0, 1, Svg.Bottom, Svg.Top) : new LinearScale(ys.Min(), ys.Max(), Svg.Bottom, Svg.Top);

        var sb = new StringBuilder();
        Svg.Begin(sb, title);
        Svg.YAxis(sb, y, yLabel);
        foreach (double t in x.Ticks())
            sb.Append($"<text x=\"{Svg.N(x.Map(t))}\" y=\"{Svg.N(Svg.Bottom + 16)}\" text-anchor=\"middle\">{x.Format(t)}</text>");
        sb.Append($"<text x=\"{Svg.N((Svg.Left + Svg.Right) / 2)}\" y=\"{Svg.N(Svg.Bottom + 40)}\" text-anchor=\"middle\">{Html.Escape(xLabel)}</text>");
        Svg.ReferenceLines(sb, y, references);
        if (points.Count == 0) Svg.NoData(sb);
        foreach (var s in series)
        {
            if (s.Lines && s.Points.Count > 1)
                sb.Append($"<polyline fill=\"none\" stroke=\"{s.Colour}\" stroke-width=\"2\"{(s.Dashed ? " stroke-dasharray=\"6 4\"" : "")} points=\"")
                  .AppendJoin(' ', s.Points.Select(p => $"{Svg.N(x.Map(p.X))},{Svg.N(y.Map(p.Y))}")).Append("\"/>");
            foreach (var p in s.Points)
            {
                double px = x.Map(p.X), py = y.Map(p.Y);
                if (p.Low is { } low && p.High is { } high)
                    sb.Append($"<line x1=\"{Svg.N(px)}\" x2=\"{Svg.N(px)}\" y1=\"{Svg.N(y.Map(low))}\" y2=\"{Svg.N(y.Map(high))}\" stroke=\"{s.Colour}\" stroke-width=\"1.5\"/>");
                sb.Append($"<circle cx=\"{Svg.N(px)}\" cy=\"{Svg.N(py)}\" r=\"{(s.Lines ? 3 : 5)}\" fill=\"{s.Colour}\"/>");
                if (p.Label is not null) sb.Append($"<text x=\"{Svg.N(px + 7)}\" y=\"{Svg.N(py - 7)}\" {Svg.NoteStyle}>{Html.Escape(p.Label)}</text>");
            }
        }
        Svg.Legend(sb, [.. series.Select(s => (s.Name, s.Colour, s.Dashed))]);
        Svg.End(sb);
        return sb.ToString();
    }
}
