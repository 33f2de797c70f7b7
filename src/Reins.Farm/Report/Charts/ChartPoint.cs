namespace Reins.Farm.Report.Charts;

/// <summary>A point of an x–y chart, with an optional vertical interval and a text label.</summary>
internal readonly record struct ChartPoint(double X, double Y, double? Low = null, double? High = null, string? Label = null);
