using System.Globalization;

namespace Reins.Farm.Report.Charts;

/// <summary>
/// A linear map from data values to pixels whose domain is widened to "nice" round tick values (Heckbert 1990, "Nice
/// numbers for graph labels"), so axes read 0, 0.5, 1.0 rather than 0.0371, 0.4812, ….
/// </summary>
internal sealed class LinearScale
{
    private readonly double min, max, from, to;

    /// <summary>A scale covering <paramref name="dataMin"/>…<paramref name="dataMax"/>, drawn from pixel <paramref name="from"/> to <paramref name="to"/>.</summary>
    public LinearScale(double dataMin, double dataMax, double from, double to, int ticks = 5)
    {
        if (!(dataMax > dataMin))
        {
            // One value (or none): centre it in a unit-sized window rather than divide by zero.
            double pad = Math.Abs(dataMin) > 0 ? Math.Abs(dataMin) * 0.1 : 0.5;
            dataMin -= pad;
            dataMax += pad;
        }
        Step = Nice((dataMax - dataMin) / (ticks - 1));
        min = Math.Floor(dataMin / Step) * Step;
        max = Math.Ceiling(dataMax / Step) * Step;
        (this.from, this.to) = (from, to);
    }

    /// <summary>The distance between ticks.</summary>
    public double Step { get; }

    /// <summary>The pixel position of <paramref name="value"/>.</summary>
    public double Map(double value) => from + (value - min) / (max - min) * (to - from);

    /// <summary>The tick values, from the domain's low end to its high end.</summary>
    public IEnumerable<double> Ticks()
    {
        for (int i = 0; min + i * Step <= max + Step * 1e-9; i++) yield return min + i * Step;
    }

    /// <summary>A tick value with as many decimals as the step needs.</summary>
    public string Format(double value)
    {
        int decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(Step) + 1e-9));
        return Math.Round(value, decimals).ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    /// <summary>1, 2, 5 or 10 times a power of ten, whichever is nearest <paramref name="rough"/> (Heckbert's rounding thresholds).</summary>
    private static double Nice(double rough)
    {
        double power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double fraction = rough / power;
        return (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * power;
    }
}
