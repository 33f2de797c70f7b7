namespace Reins.Rewards.Evaluation;

/// <summary>
/// Student's t distribution: its CDF through the regularised incomplete beta function (a continued fraction, evaluated
/// by Lentz's method) and its quantile by bisection on the CDF, to 1e-12 — enough for confidence bounds, with nothing
/// tabulated.
/// </summary>
public static class StudentT
{
    /// <summary>P(T ≤ <paramref name="t"/>) for <paramref name="degrees"/> degrees of freedom.</summary>
    public static double Cdf(double t, double degrees)
    {
        if (!(degrees > 0)) throw new ArgumentOutOfRangeException(nameof(degrees), degrees, "degrees of freedom must be positive");
        double tail = 0.5 * RegularizedIncompleteBeta(degrees / (degrees + t * t), degrees / 2, 0.5);
        return t >= 0 ? 1 - tail : tail;
    }

    /// <summary>The <paramref name="p"/>-quantile (0 &lt; p &lt; 1).</summary>
    public static double Quantile(double p, double degrees)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "a quantile's probability is in (0, 1)");
        double low = -1, high = 1;
        while (Cdf(low, degrees) > p) low *= 2;
        while (Cdf(high, degrees) < p) high *= 2;
        for (int i = 0; i < 200 && high - low > 1e-12; i++)
        {
            double mid = 0.5 * (low + high);
            if (Cdf(mid, degrees) < p) low = mid; else high = mid;
        }
        return 0.5 * (low + high);
    }

    /// <summary>I_x(a, b), the regularised incomplete beta function.</summary>
    public static double RegularizedIncompleteBeta(double x, double a, double b)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        double front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        // The continued fraction converges fast for x < (a+1)/(a+b+2); the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) covers the rest.
        return x < (a + 1) / (a + b + 2) ? front * ContinuedFraction(x, a, b) / a : 1 - front * ContinuedFraction(1 - x, b, a) / b;
    }

    private static double ContinuedFraction(double x, double a, double b)
    {
        const double tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        d = 1 / (Math.Abs(d) < tiny ? tiny : d);
        double result = d;
        for (int m = 1; m <= 300; m++)
        {
            foreach (double coefficient in new[] { m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)), -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)) })
            {
                d = 1 + coefficient * d;
                d = 1 / (Math.Abs(d) < tiny ? tiny : d);
                c = 1 + coefficient / c;
                if (Math.Abs(c) < tiny) c = tiny;
                result *= d * c;
            }
            if (Math.Abs(d * c - 1) < 1e-15) break;
        }
        return result;
    }

    // Lanczos' approximation (g = 7, nine terms), accurate to about 1e-15 for positive arguments.
    private static double LogGamma(double x)
    {
        double[] g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        double sum = g[0];
        for (int i = 1; i < g.Length; i++) sum += g[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }
}
