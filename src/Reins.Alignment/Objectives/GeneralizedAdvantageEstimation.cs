namespace Reins.Alignment.Objectives;

/// <summary>
/// Generalized advantage estimation (Schulman et al. 2016, Eq. 16) over token rewards: δ_t = r_t + γ·V_{t+1} − V_t,
/// Â_t = Σ_l (γλ)^l·δ_{t+l}, and returns R_t = Â_t + V_t, the critic's regression targets (computed before any
/// whitening of Â, as TRL and CleanRL do). Each row runs over its own length with the value after its last token
/// taken as 0: the episode ends there (EOS or the length cap), and the padding beyond gets 0. With λ = 1 and V = 0 it
/// is the plain discounted return Σ_l γ^l·r_{t+l} that REINFORCE uses.
/// </summary>
public static class GeneralizedAdvantageEstimation
{
    /// <summary>Advantages and returns [rows·width] from rewards and values [rows·width] and each row's length.</summary>
    public static (float[] Advantages, float[] Returns) Compute(ReadOnlySpan<float> rewards, ReadOnlySpan<float> values, ReadOnlySpan<int> lengths, int width, float gamma, float lambda)
    {
        var advantages = new float[rewards.Length];
        var returns = new float[rewards.Length];
        for (int r = 0; r < lengths.Length; r++)
        {
            int row = r * width;
            float next = 0, running = 0;    // V_{t+1} and Â_{t+1}, both 0 after the last token
            for (int t = lengths[r] - 1; t >= 0; t--)
            {
                float delta = rewards[row + t] + gamma * next - values[row + t];
                running = delta + gamma * lambda * running;
                advantages[row + t] = running;
                returns[row + t] = running + values[row + t];
                next = values[row + t];
            }
        }
        return (advantages, returns);
    }
}
