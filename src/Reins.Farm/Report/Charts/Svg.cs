using System.Globalization;
using System.Text;

namespace Reins.Farm.Report.Charts;

/// <summary>The frame every chart shares: the canvas, title, y axis with grid lines, reference lines and legend.</summary>
internal static class Svg
{
    public const double Width = 680, Height = 380;
    public const double Left = 64, Right = Width - 170, Top = 40, Bottom = Height - 64;

    /// <summary>Okabe–Ito's colour-blind-safe palette, then two greys.</summary>
    public static readonly string[] Palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999", "#666666"];

    // Presentation attributes rather than CSS classes, so that a chart saved on its own still draws the same.
    public const string TitleStyle = "font-size=\"15\" font-weight=\"bold\"";
    public const string NoteStyle = "fill=\"#555\" font-size=\"11\"";
    public const string WhiskerStyle = "stroke=\"#222\" stroke-width=\"1.5\" fill=\"none\"";

    public static string Colour(int index) => Palette[index % Palette.Length];

    /// <summary>A coordinate with two decimals, invariant culture.</summary>
    public static string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    public static void Begin(StringBuilder sb, string title)
    {
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" font-family=\"sans-serif\" font-size=\"12\" width=\"{N(Width)}\" height=\"{N(Height)}\" viewBox=\"0 0 {N(Width)} {N(Height)}\" role=\"img\">");
        sb.Append($"<title>{Html.Escape(title)}</title>");
        sb.Append($"<text x=\"{N(Left)}\" y=\"22\" {TitleStyle}>{Html.Escape(title)}</text>");
    }

    public static void End(StringBuilder sb) => sb.Append("</svg>");

    /// <summary>Horizontal grid lines with tick labels, the y-axis label, and the plot's frame.</summary>
    public static void YAxis(StringBuilder sb, LinearScale y, string label)
    {
        foreach (double t in y.Ticks())
        {
            double py = y.Map(t);
            sb.Append($"<line x1=\"{N(Left)}\" x2=\"{N(Right)}\" y1=\"{N(py)}\" y2=\"{N(py)}\" stroke=\"#e4e4e4\"/>");
            sb.Append($"<text x=\"{N(Left - 6)}\" y=\"{N(py + 4)}\" text-anchor=\"end\">{y.Format(t)}</text>");
        }
        sb.Append($"<rect x=\"{N(Left)}\" y=\"{N(Top)}\" width=\"{N(Right - Left)}\" height=\"{N(Bottom - Top)}\" fill=\"none\" stroke=\"#999\"/>");
        double mid = (Top + Bottom) / 2;
        sb.Append($"<text x=\"16\" y=\"{N(mid)}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {N(mid)})\">{Html.Escape(label)}</text>");
    }

    /// <summary>Dashed horizontal lines marking reference values, labelled at their right end.</summary>
    public static void ReferenceLines(StringBuilder sb, LinearScale y, IEnumerable<(double Value, string Label)> lines)
    {
        foreach (var (value, label) in lines)
        {
            double py = y.Map(value);
            sb.Append($"<line x1=\"{N(Left)}\" x2=\"{N(Right)}\" y1=\"{N(py)}\" y2=\"{N(py)}\" stroke=\"#888\" stroke-dasharray=\"4 4\"/>");
            sb.Append($"<text x=\"{N(Right - 4)}\" y=\"{N(py - 4)}\" text-anchor=\"end\" {NoteStyle}>{Html.Escape(label)}</text>");
        }
    }

    /// <summary>Swatches and names to the right of the plot; a dashed entry is drawn as a dashed line.</summary>
    public static void Legend(StringBuilder sb, IReadOnlyList<(string Name, string Colour, bool Dashed)> entries)
    {
        for (int i = 0; i < entries.Count; i++)
        {
            double y = Top + 8 + i * 18;
            var (name, colour, dashed) = entries[i];
            sb.Append($"<line x1=\"{N(Right + 12)}\" x2=\"{N(Right + 32)}\" y1=\"{N(y)}\" y2=\"{N(y)}\" stroke=\"{colour}\" stroke-width=\"3\"{(dashed ? " stroke-dasharray=\"5 3\"" : "")}/>");
            sb.Append($"<text x=\"{N(Right + 38)}\" y=\"{N(y + 4)}\">{Html.Escape(name)}</text>");
        }
    }

    /// <summary>A note in the middle of an empty plot.</summary>
    public static void NoData(StringBuilder sb) =>
        sb.Append($"<text x=\"{N((Left + Right) / 2)}\" y=\"{N((Top + Bottom) / 2)}\" text-anchor=\"middle\" {NoteStyle}>no data</text>");
}
