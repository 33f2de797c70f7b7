namespace Reins.Farm.Evaluation;

/// <summary>
/// The analytic KL divergence of best-of-n sampling from the base policy, KL = log n − (n − 1)/n (Stiennon et al. 2020,
/// App. G.3), which Beirami et al. (2024) showed is an upper bound on the true value; the farm reports it beside
/// the sample estimate for the best-of-n methods.
/// </summary>
public static class BestOfNKlBound
{
    /// <summary>log n − (n − 1)/n, in nats.</summary>
    public static double Of(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        return Math.Log(n) - (n - 1.0) / n;
    }
}
