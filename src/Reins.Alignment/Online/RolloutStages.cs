using Reins.Alignment.Objectives;
using Reins.Alignment.Training;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Online;

/// <summary>The second stage: the rollout with its rewards.</summary>
/// <param name="Rollout">The sampled completions.</param>
/// <param name="Scores">[Rows] the reward of each completion (after the missing-EOS penalty).</param>
/// <param name="Components">Each reward source's own scores, for rewards/&lt;name&gt;/mean.</param>
/// <param name="Requests">What the reward saw of each row (texts, ids, whether it finished, the record's fields), for judges comparing rows.</param>
/// <param name="StepRewards">
/// For methods that take step rewards (<see cref="RolloutPlan.StepRewards"/>) from a source that gives them: [Rows·CompletionLength]
/// the reward due at each token, and [Rows] the part of each score they replace; null otherwise.
/// </param>
public sealed record ScoredRollout(Rollout Rollout, float[] Scores, IReadOnlyList<RewardComponent> Components, IReadOnlyList<ScoringRequest> Requests,
    (float[] TokenRewards, float[] ScoreParts)? StepRewards = null)
{
    /// <summary>Per row, whether a refinement stage replaced it with tokens sampled in another context (<see cref="IRolloutRefinement"/>); null when none ran.</summary>
    public bool[]? OffPolicy { get; init; }

    /// <summary>Each prompt's opponent completion, sampled and scored by the plan's <see cref="IRolloutOpponent"/>; null when it has none.</summary>
    public ScoredCompletions? Opponents { get; init; }

    /// <summary>
    /// Token rewards [Rows·CompletionLength] from per-row <paramref name="scores"/> (the rollout's, or a method's
    /// transform of them): each row's score at its last token, or, with step rewards, the step rewards where their steps
    /// end and the rest of the score (less the part the steps replace) at the last token.
    /// </summary>
    public float[] TokenScores(ReadOnlySpan<float> scores)
    {
        if (StepRewards is not { } steps) return Rollout.AtLastToken(scores);
        var rest = new float[Rollout.Rows];
        for (int r = 0; r < rest.Length; r++) rest[r] = scores[r] - steps.ScoreParts[r];
        var rewards = Rollout.AtLastToken(rest);
        for (int i = 0; i < rewards.Length; i++) rewards[i] += steps.TokenRewards[i];
        return rewards;
    }
}

/// <summary>
/// The third stage: the scored rollout with what the frozen models and the critic say of its tokens — what an advantage
/// function reads.
/// </summary>
/// <param name="Scored">The scored rollout.</param>
/// <param name="ReferenceLogProbs">[Rows·CompletionLength] log-probs of the same tokens under the frozen reference, or null without one.</param>
/// <param name="Values">Per critic of the plan, in its order: [Rows·CompletionLength] the critic's value before each token.</param>
/// <param name="KlCoefficient">β as the KL controller holds it for this step.</param>
public sealed record EvaluatedRollout(ScoredRollout Scored, float[]? ReferenceLogProbs, IReadOnlyList<float[]> Values, float KlCoefficient)
{
    /// <summary>The sampled completions.</summary>
    public Rollout Rollout => Scored.Rollout;

    /// <summary>[Rows] the reward of each completion.</summary>
    public float[] Scores => Scored.Scores;

    /// <summary>The KL estimate at each completion token against the reference [Rows·CompletionLength], 0 on padding.</summary>
    public float[] TokenKl(KlEstimator estimator)
    {
        var reference = ReferenceLogProbs ?? throw new InvalidOperationException("rollout: KL needs the reference log-probs.");
        var kl = new float[reference.Length];
        for (int i = 0; i < kl.Length; i++)
            if (Rollout.CompletionMask[i] != 0) kl[i] = KlPenalty.Value(estimator, Rollout.LogProbs[i], reference[i]);
        return kl;
    }
}

/// <summary>The last stage, whatever a method's loss reads: the evaluated rollout and the tokens its loss counts.</summary>
public interface IRolloutBatch
{
    /// <summary>The evaluated rollout.</summary>
    EvaluatedRollout Evaluated { get; }

    /// <summary>[Rows·CompletionLength] the tokens the loss counts: the completion mask less any rows the method leaves out.</summary>
    float[] LossMask { get; }
}

/// <summary>What a policy-gradient loss reads: a per-token advantage, the tokens it counts, and (PPO) the critic's targets.</summary>
/// <param name="Evaluated">The evaluated rollout.</param>
/// <param name="Advantages">[Rows·CompletionLength] the advantage of each token.</param>
/// <param name="LossMask">[Rows·CompletionLength] the tokens the loss counts.</param>
/// <param name="Returns">Per critic of the plan: [Rows·CompletionLength] its regression targets (none without critics).</param>
public sealed record PolicyGradientBatch(EvaluatedRollout Evaluated, float[] Advantages, float[] LossMask, IReadOnlyList<float[]>? Returns = null) : IRolloutBatch
{
    /// <summary>[Rows·CompletionLength] 1 on the tokens of rows sampled in another context, which the loss shapes instead of clipping; null when there are none.</summary>
    public float[]? OffPolicyTokens { get; init; }

    /// <summary>
    /// The policy's loss on the rollout rows <paramref name="rows"/>: its fresh log-probs at <paramref name="temperature"/>
    /// (the sampling temperature) through <see cref="PolicyGradientLoss"/>, with β as the rollout was evaluated.
    /// </summary>
    public StepOutput PolicyLoss(CausalLanguageModel policy, int[] rows, MiniBatch miniBatch, PolicyLossSettings settings, float temperature)
    {
        var rollout = Evaluated.Rollout;
        var (logProbs, logits) = rollout.TokenLogProbs(policy, rows, temperature);
        var mask = rollout.Gather(LossMask, rows);
        var weights = TokenLossWeights.Of(settings.Aggregation, mask, rows.Length, rollout.CompletionLength, miniBatch);
        var reference = Evaluated.ReferenceLogProbs is { } r ? rollout.Gather(r, rows) : null;
        var (loss, metrics) = PolicyGradientLoss.Compute(logProbs, logits, temperature, rollout.Gather(rollout.LogProbs, rows), rollout.Gather(Advantages, rows),
            reference, Evaluated.KlCoefficient, mask, weights, settings, OffPolicyTokens is { } off ? rollout.Gather(off, rows) : null);
        return new StepOutput(loss, metrics);
    }
}
