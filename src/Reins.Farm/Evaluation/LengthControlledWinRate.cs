namespace Reins.Farm.Evaluation;

/// <summary>
/// AlpacaEval 2's length-controlled win-rate (Dubois et al. 2024): fit the judge's preferences with the GLM
/// logit P(m ≻ b | x) = θ + φ·tanh(Δlen_x / std(Δlen)) + ψ·γ_x, where θ = θ_m − θ_b and ψ = ψ_m − ψ_b, then report the
/// mean over prompts of σ(θ + ψ·γ_x): the win-rate the judge would give were the two responses equally long.
/// </summary>
/// <remarks>
/// What differs from AlpacaEval, and why: AlpacaEval takes the instruction difficulty γ_x from a fit over its whole
/// leaderboard and regularises towards "gamed" concise/verbose baselines with cross-validated L1. The farm has no
/// leaderboard, so γ_x is estimated from the other methods evaluated on the same prompts
/// (<see cref="InstructionDifficulty"/>, leave-one-out so a method's own noise cannot explain itself away), and the
/// fit is a ridge-penalised maximum-likelihood Newton (IRLS) fit; the small penalty only keeps the parameters finite
/// when outcomes are separable (e.g. every comparison won). Without γ the term is dropped and the model is
/// θ + φ·tanh(…), the "length-controlled, simplified" variant.
/// </remarks>
/// <param name="WinRate">The length-controlled win-rate.</param>
/// <param name="Theta">θ_m − θ_b: the model's advantage at zero length difference on a prompt of average difficulty.</param>
/// <param name="Phi">φ: the judge's length effect.</param>
/// <param name="Psi">ψ_m − ψ_b: how the model's advantage scales with prompt difficulty (0 without difficulties).</param>
public sealed record LengthControlledWinRate(double WinRate, double Theta, double Phi, double Psi)
{
    /// <summary>The ridge penalty λ/2·‖β‖² on the GLM's coefficients.</summary>
    public const double Ridge = 1e-3;

    private const int MaxNewtonSteps = 100;

    /// <summary>
    /// Fits the GLM to per-prompt outcomes (1 win, ½ tie, 0 loss; fractional targets are fitted as probabilities, as
    /// AlpacaEval does), length differences Δlen = len(model) − len(baseline) (AlpacaEval counts characters), and
    /// optionally a difficulty γ_x per prompt.
    /// </summary>
    public static LengthControlledWinRate Fit(IReadOnlyList<double> outcomes, IReadOnlyList<double> lengthDifferences, IReadOnlyList<double>? difficulty = null)
    {
        int n = outcomes.Count;
        if (n == 0) throw new ArgumentException("no outcomes", nameof(outcomes));
        if (lengthDifferences.Count != n || (difficulty is not null && difficulty.Count != n))
            throw new ArgumentException($"{n} outcomes, {lengthDifferences.Count} length differences and {difficulty?.Count} difficulties");
        if (outcomes.Any(o => o is < 0 or > 1 || double.IsNaN(o))) throw new ArgumentOutOfRangeException(nameof(outcomes), "outcomes lie in [0, 1]");

        double std = StandardDeviation(lengthDifferences);
        // All responses equally longer or shorter: Δlen carries no information that θ does not already hold.
        var features = new double[n][];
        for (int i = 0; i < n; i++)
        {
            double length = std > 0 ? Math.Tanh(lengthDifferences[i] / std) : 0;
            features[i] = difficulty is null ? [1, length] : [1, length, difficulty[i]];
        }
        var beta = FitLogistic(features, outcomes);
        double psi = difficulty is null ? 0 : beta[2];
        double winRate = 0;
        for (int i = 0; i < n; i++) winRate += Sigmoid(beta[0] + psi * (difficulty?[i] ?? 0));
        return new LengthControlledWinRate(winRate / n, beta[0], beta[1], psi);
    }

    /// <summary>
    /// γ_x for one method from the outcomes of the other methods against the same baseline on the same prompts
    /// (<paramref name="otherMethods"/>[method][prompt]): the centred log-odds that they win on x, with half a win and
    /// half a loss added so unanimous prompts stay finite. Prompts every method wins are easy; prompts every method
    /// loses are hard.
    /// </summary>
    public static double[] InstructionDifficulty(IReadOnlyList<IReadOnlyList<double>> otherMethods)
    {
        if (otherMethods.Count == 0) throw new ArgumentException("difficulty needs the outcomes of at least one other method", nameof(otherMethods));
        int prompts = otherMethods[0].Count;
        if (otherMethods.Any(m => m.Count != prompts)) throw new ArgumentException("every method needs an outcome on every prompt", nameof(otherMethods));
        var gamma = new double[prompts];
        for (int x = 0; x < prompts; x++)
        {
            double wins = otherMethods.Sum(m => m[x]);
            gamma[x] = Math.Log((wins + 0.5) / (otherMethods.Count - wins + 0.5));
        }
        double mean = gamma.Average();
        for (int x = 0; x < prompts; x++) gamma[x] -= mean;
        return gamma;
    }

    /// <summary>
    /// Newton's method on the ridge-penalised log-likelihood Σ y log p + (1 − y) log(1 − p) − λ/2·‖β‖²: each step
    /// solves (Xᵀ W X + λI) Δ = Xᵀ(y − p) − λβ with W = diag(p(1 − p)), i.e. iteratively reweighted least squares.
    /// </summary>
    private static double[] FitLogistic(double[][] x, IReadOnlyList<double> y)
    {
        int k = x[0].Length;
        var beta = new double[k];
        for (int step = 0; step < MaxNewtonSteps; step++)
        {
            var hessian = new double[k, k];
            var gradient = new double[k];
            for (int j = 0; j < k; j++) { hessian[j, j] = Ridge; gradient[j] = -Ridge * beta[j]; }
            for (int i = 0; i < x.Length; i++)
            {
                double eta = 0;
                for (int j = 0; j < k; j++) eta += beta[j] * x[i][j];
                double p = Sigmoid(eta), w = p * (1 - p);
                for (int j = 0; j < k; j++)
                {
                    gradient[j] += (y[i] - p) * x[i][j];
                    for (int l = 0; l < k; l++) hessian[j, l] += w * x[i][j] * x[i][l];
                }
            }
            var delta = Solve(hessian, gradient);
            double largest = 0;
            for (int j = 0; j < k; j++) { beta[j] += delta[j]; largest = Math.Max(largest, Math.Abs(delta[j])); }
            if (largest < 1e-10) break;
        }
        return beta;
    }

    /// <summary>Gaussian elimination with partial pivoting; the matrix is small and positive definite.</summary>
    private static double[] Solve(double[,] a, double[] b)
    {
        int k = b.Length;
        for (int c = 0; c < k; c++)
        {
            int pivot = c;
            for (int r = c + 1; r < k; r++) if (Math.Abs(a[r, c]) > Math.Abs(a[pivot, c])) pivot = r;
            for (int j = 0; j < k; j++) (a[c, j], a[pivot, j]) = (a[pivot, j], a[c, j]);
            (b[c], b[pivot]) = (b[pivot], b[c]);
            for (int r = c + 1; r < k; r++)
            {
                double f = a[r, c] / a[c, c];
                for (int j = c; j < k; j++) a[r, j] -= f * a[c, j];
                b[r] -= f * b[c];
            }
        }
        var solution = new double[k];
        for (int r = k - 1; r >= 0; r--)
        {
            double s = b[r];
            for (int j = r + 1; j < k; j++) s -= a[r, j] * solution[j];
            solution[r] = s / a[r, r];
        }
        return solution;
    }

    /// <summary>Sample standard deviation (n − 1), as pandas' std, which AlpacaEval uses.</summary>
    private static double StandardDeviation(IReadOnlyList<double> values)
    {
        if (values.Count < 2) return 0;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
