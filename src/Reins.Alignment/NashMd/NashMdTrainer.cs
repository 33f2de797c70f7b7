using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Objectives;
using Reins.Alignment.Online;
using Reins.Alignment.Training;
using Reins.Models.Transformers;
using Reins.Rewards.Judges;
using Reins.Tensors;

namespace Reins.Alignment.NashMd;

/// <summary>Settings of Nash-MD, with TRL's NashMDConfig names and defaults (beta 0.1, mixture_coef 0.5); one completion per prompt.</summary>
public sealed record NashMdConfig : IOnlineConfig
{
    /// <inheritdoc/>
    public TrainingArguments Training { get; init; } = new();

    /// <inheritdoc/>
    public OnlineArguments Online { get; init; } = new();

    /// <summary>β, the strength of the KL regularisation towards the reference.</summary>
    [JsonPropertyName("beta"), Description("beta: weight of the KL(pi || pi_ref) term.")]
    public float Beta { get; init; } = 0.1f;

    /// <summary>α, the reference's weight in the opponent's geometric mixture.</summary>
    [JsonPropertyName("mixture_coef"), Description("Weight alpha of the reference in the opponent's geometric mixture log_softmax(alpha * ref_logits + (1 - alpha) * policy_logits).")]
    public float MixtureCoef { get; init; } = 0.5f;

    /// <summary>Checks every Nash-MD setting.</summary>
    public void Validate()
    {
        Training.Validate();
        Online.Validate();
        Online.ValidateGroups(Training, 1);
        Settings.Require(Beta >= 0 && float.IsFinite(Beta), "beta", "must be non-negative");
        Settings.Require(MixtureCoef is >= 0 and <= 1, "mixture_coef", "must be in [0, 1]");
    }
}

/// <summary>Nash-MD's batch: each prompt's probability that the policy's completion beats the opponent's.</summary>
/// <param name="Evaluated">The evaluated rollout (one completion per prompt).</param>
/// <param name="Probabilities">[Rows] P(y ≻ y′).</param>
public sealed record MixtureDuels(EvaluatedRollout Evaluated, float[] Probabilities) : IRolloutBatch
{
    /// <inheritdoc/>
    public float[] LossMask => Evaluated.Rollout.CompletionMask;
}

/// <summary>
/// Nash-MD — Nash learning from human feedback by mirror descent (Munos et al. 2024; TRL's NashMDTrainer): each step the
/// policy samples one completion y per prompt and an opponent samples y′ from the geometric mixture of the policy and
/// the reference (<see cref="MixtureOpponent"/>); a preference model or judge gives P(y ≻ y′) — or, with only a
/// reward, σ(r(y) − r(y′)) — and <see cref="NashMdLoss"/> moves the policy towards what beats the mixture while a
/// REINFORCE KL term holds it near the reference. Its fixed point is the regularised game's Nash equilibrium, which a
/// preference that is not transitive still has. Log-probs are at temperature 1, as TRL's. Logs TRL's names: loss/kl,
/// loss/score, objective/entropy, rewards/probabilities, rewards/accuracies, rewards/margins, logps/chosen,
/// logps/rejected, val/model_contain_eos_token, val/ref_contain_eos_token, beta, mixture_coef, and with a reward
/// rewards/chosen and rewards/rejected (the two sides' scores).
/// </summary>
public sealed class NashMdTrainer(NashMdConfig config, CausalLanguageModel policy, CausalLanguageModel reference, OnlineInputs inputs, IPairwiseJudge? judge = null)
    : OnlineTrainer<MixtureDuels>(config, new RolloutPlan(1, 1, new FixedKlController(config.Beta)) { LogProbTemperature = 1f, Opponent = new MixtureOpponent(config.MixtureCoef) },
        policy, reference, inputs)
{
    /// <summary>Judges each completion against its opponent.</summary>
    protected override MixtureDuels Advantages(EvaluatedRollout evaluated, Dictionary<string, double> metrics)
    {
        var scored = evaluated.Scored;
        var opponents = scored.Opponents ?? throw new InvalidOperationException("nash-md: the rollout has no opponents.");
        float[] probabilities = judge is null
            ? [.. evaluated.Scores.Select((s, i) => 1f / (1f + MathF.Exp(opponents.Scores[i] - s)))]
            : judge.Judge([.. scored.Requests.Select((r, i) => new PairToJudge(r, opponents.Requests[i]))]);
        metrics["rewards/probabilities"] = probabilities.Average();
        if (judge is null) (metrics["rewards/chosen"], metrics["rewards/rejected"]) = (evaluated.Scores.Average(), opponents.Scores.Average());
        metrics["val/model_contain_eos_token"] = evaluated.Rollout.Finished.Count(f => f) / (double)evaluated.Rollout.Rows;
        metrics["val/ref_contain_eos_token"] = opponents.Requests.Count(r => r.Finished) / (double)opponents.Requests.Count;
        (metrics["beta"], metrics["mixture_coef"]) = (config.Beta, config.MixtureCoef);
        return new MixtureDuels(evaluated, probabilities);
    }

    /// <summary>The micro-batch's Nash-MD loss, a mean over its completions divided by the accumulation steps.</summary>
    protected override StepOutput Loss(MixtureDuels batch, int[] rows, MiniBatch miniBatch)
    {
        var rollout = batch.Evaluated.Rollout;
        var (logProbs, _) = rollout.TokenLogProbs(Model, rows, temperature: 1f);
        var reference = rollout.Gather(batch.Evaluated.ReferenceLogProbs!, rows);
        var result = NashMdLoss.Compute(logProbs, reference, [.. rows.Select(r => batch.Probabilities[r])], rollout.CompletionLength, config.Beta);
        var policySums = Sums(logProbs.ToArray(), rollout.CompletionLength);
        var referenceSums = Sums(reference, rollout.CompletionLength);
        // TRL's rewards/margins is the summed log-ratio, the same number as loss/kl per completion.
        return new StepOutput(result.Loss * (1f / miniBatch.AccumulationSteps), new Dictionary<string, double>
        {
            ["loss/kl"] = result.Kl.Average(), ["loss/score"] = result.Scores.Average(), ["objective/entropy"] = -policySums.Average(),
            ["logps/chosen"] = policySums.Average(), ["logps/rejected"] = referenceSums.Average(),
            ["rewards/margins"] = result.Kl.Average(), ["rewards/accuracies"] = result.Kl.Count(m => m > 0) / (double)result.Kl.Length,
        });
    }

    // Each completion's sum of a per-token array laid out [completions·T].
    private static double[] Sums(float[] perToken, int completionLength) =>
        [.. perToken.Chunk(completionLength).Select(c => c.Sum(x => (double)x))];
}
