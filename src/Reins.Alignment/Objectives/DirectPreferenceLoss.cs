using System.ComponentModel;
using System.Text.Json.Serialization;
using Reins.Alignment.Training;
using Reins.Tensors;

namespace Reins.Alignment.Objectives;

/// <summary>The direct-alignment objectives, named as TRL's <c>loss_type</c> values.</summary>
public enum PreferenceLossType
{
    /// <summary>DPO (Rafailov et al. 2023); with label smoothing ε it is conservative DPO (cDPO).</summary>
    Sigmoid,
    /// <summary>Robust DPO (Chowdhury et al. 2024): unbiased under labels flipped with probability ε.</summary>
    Robust,
    /// <summary>IPO (Azar et al. 2023): squared loss towards a margin of 1/(2β) on length-averaged log-ratios.</summary>
    Ipo,
    /// <summary>SLiC's hinge (Zhao et al. 2023): max(0, 1 − β·h).</summary>
    Hinge,
    /// <summary>SimPO (Meng et al. 2024): reference-free, length-normalised, with a target margin γ.</summary>
    Simpo,
    /// <summary>ORPO (Hong et al. 2024): reference-free odds-ratio term added to the SFT loss on chosen.</summary>
    Orpo,
    /// <summary>
    /// SPPO (Wu et al. 2024): each response's log-ratio regressed on (P̂(y ≻ π_t) − ½)/β, with the pair's estimated
    /// win-rates against the policy's samples (the SPPO code's loss: the mean of the two terms).
    /// </summary>
    Sppo,
    /// <summary>TRL's sppo_hard: SPPO with the winner's win-rate 1 and the loser's 0, the two terms summed.</summary>
    SppoHard,
}

/// <summary>What the trainers need to know about a <see cref="PreferenceLossType"/>.</summary>
public static class PreferenceLossTypes
{
    /// <summary>Whether the objective compares against a frozen reference model: all but SimPO and ORPO.</summary>
    public static bool NeedsReference(this PreferenceLossType type) => type is not (PreferenceLossType.Simpo or PreferenceLossType.Orpo);
}

/// <summary>
/// The direct-preference objective and its hyperparameters, with TRL's names and defaults: the section of the offline,
/// online and iterative DPO configs.
/// </summary>
public sealed record PreferenceLossOptions : ISettings
{
    /// <summary>Which objective.</summary>
    [JsonPropertyName("loss_type"), Description("sigmoid (DPO; cDPO with label_smoothing), robust, ipo, hinge, simpo, orpo, sppo (needs each pair's win-rates: chosen_probs_win, chosen_probs_lose) or sppo_hard.")]
    public PreferenceLossType Type { get; init; } = PreferenceLossType.Sigmoid;

    /// <summary>β: the KL-regularisation strength (DPO family) or reward scale (SimPO) or λ (ORPO).</summary>
    [JsonPropertyName("beta"), Description("beta: KL strength (DPO family), reward scale (SimPO), lambda (ORPO).")]
    public float Beta { get; init; } = 0.1f;

    /// <summary>ε, the assumed probability that a label is flipped (cDPO, robust DPO, SimPO).</summary>
    [JsonPropertyName("label_smoothing"), Description("Assumed label-flip rate for cDPO / robust DPO / SimPO.")]
    public float LabelSmoothing { get; init; }

    /// <summary>SimPO's target reward margin γ.</summary>
    [JsonPropertyName("simpo_gamma"), Description("SimPO target reward margin gamma.")]
    public float SimpoGamma { get; init; } = 0.5f;

    /// <summary>RPO's weight α on the chosen responses' NLL (Pang et al. 2024); 0 = off.</summary>
    [JsonPropertyName("rpo_alpha"), Description("Weight of the chosen responses' NLL added to the loss (RPO; 0 = off).")]
    public float RpoAlpha { get; init; }

    /// <summary>Use per-token average log-probs instead of sums in DPO/robust/hinge (length-normalised DPO).</summary>
    [JsonPropertyName("length_normalize"), Description("Use per-token average log-probs in sigmoid/robust/hinge (length-normalised DPO).")]
    public bool LengthNormalize { get; init; }

    /// <inheritdoc/>
    public void Validate()
    {
        Settings.Require(Beta > 0, "beta", "must be positive");
        Settings.Require(LabelSmoothing is >= 0 and < 0.5f, "label_smoothing", "must be in [0, 0.5)");
    }
}

/// <summary>Per-sequence inputs: summed response log-probs, response lengths, and the chosen responses' mean NLL.</summary>
/// <param name="PolicyChosen">Σ log π(y_w|x) over response tokens, [B].</param>
/// <param name="PolicyRejected">Σ log π(y_l|x), [B].</param>
/// <param name="ReferenceChosen">Σ log π_ref(y_w|x), [B] (unused by SimPO and ORPO).</param>
/// <param name="ReferenceRejected">Σ log π_ref(y_l|x), [B].</param>
/// <param name="ChosenLengths">Response tokens of each chosen response.</param>
/// <param name="RejectedLengths">Response tokens of each rejected response.</param>
/// <param name="ChosenNll">Mean token NLL of the chosen responses, a scalar (needed by ORPO and RPO).</param>
public sealed record PreferenceLogProbs(Tensor PolicyChosen, Tensor PolicyRejected, Tensor? ReferenceChosen, Tensor? ReferenceRejected,
    float[] ChosenLengths, float[] RejectedLengths, Tensor? ChosenNll = null)
{
    /// <summary>SPPO's estimated win-rates P̂(y ≻ π_t) of the chosen and the rejected responses, [B] each (needed by sppo).</summary>
    public (float[] Chosen, float[] Rejected)? WinRates { get; init; }

    /// <summary>
    /// The inputs from one concatenated forward (TRL's): per-row sums [2B] and lengths of B chosen rows, then their B
    /// rejected rows, and the reference's sums in the same layout (null for the reference-free losses). The chosen
    /// NLL is computed only when <paramref name="options"/> need it (ORPO, RPO).
    /// </summary>
    public static PreferenceLogProbs Concatenated(Tensor sums, float[] lengths, float[]? referenceSums, PreferenceLossOptions options)
    {
        int pairs = lengths.Length / 2;
        var chosen = Ops.Narrow0(sums, 0, pairs);
        Tensor? nll = null;
        if (options.Type == PreferenceLossType.Orpo || options.RpoAlpha > 0)
            nll = -Ops.Sum(chosen) / lengths.Take(pairs).Sum();        // mean token NLL of the chosen responses, as TRL's nll_loss
        return new PreferenceLogProbs(chosen, Ops.Narrow0(sums, pairs, pairs),
            referenceSums is null ? null : Tensor.FromArray(referenceSums.AsSpan(0, pairs), pairs),
            referenceSums is null ? null : Tensor.FromArray(referenceSums.AsSpan(pairs, pairs), pairs),
            lengths[..pairs], lengths[pairs..], nll);
    }
}

/// <summary>The loss and TRL's logged quantities (<c>rewards/chosen</c> etc., batch means).</summary>
public sealed record PreferenceLossResult(Tensor Loss, float RewardsChosen, float RewardsRejected, float RewardsAccuracy, float RewardsMargin, float LogpsChosen, float LogpsRejected);

/// <summary>
/// One function for the family of direct preference objectives, each written as its paper states it. With
/// h = β·[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]:
/// DPO −log σ(h); cDPO −(1−ε)·log σ(h) − ε·log σ(−h); robust [−(1−ε)·log σ(h) + ε·log σ(−h)]/(1−2ε);
/// hinge max(0, 1 − h); IPO (h/β − 1/(2β))² on length-averaged log-probs (as TRL); SimPO −log σ(β·(ā_w − ā_l) − γ)
/// on average log-probs ā, smoothed like cDPO; ORPO NLL(y_w) − β·log σ(log odds(y_w) − log odds(y_l)); SPPO
/// ½[(ρ_w − (P̂_w − ½)/β)² + (ρ_l − (P̂_l − ½)/β)²] with log-ratios ρ and win-rates P̂, sppo_hard (ρ_w − 1/(2β))² + (ρ_l + 1/(2β))².
/// </summary>
public static class DirectPreferenceLoss
{
    /// <summary>Computes the mean loss over the batch and the implicit-reward metrics.</summary>
    public static PreferenceLossResult Compute(PreferenceLogProbs p, PreferenceLossOptions o)
    {
        int batch = p.PolicyChosen.Size;
        if (p.PolicyRejected.Size != batch || p.ChosenLengths.Length != batch || p.RejectedLengths.Length != batch)
            throw new ArgumentException($"preference loss: inconsistent batch ({batch} chosen log-probs, {p.PolicyRejected.Size} rejected, {p.ChosenLengths.Length}/{p.RejectedLengths.Length} lengths).");
        if (o.LabelSmoothing is < 0 or >= 0.5f) throw new ArgumentOutOfRangeException(nameof(o), o.LabelSmoothing, "label_smoothing must be in [0, 0.5).");
        if (o.Type.NeedsReference() && (p.ReferenceChosen is null || p.ReferenceRejected is null))
            throw new ArgumentException($"preference loss '{o.Type}': reference log-probs are required.");
        if (o.Type == PreferenceLossType.Sppo && (p.WinRates is not { } rates || rates.Chosen.Length != batch || rates.Rejected.Length != batch))
            throw new ArgumentException($"preference loss 'sppo': each of the {batch} pairs needs the win-rates of its chosen and rejected responses (chosen_probs_win, chosen_probs_lose).");
        if ((o.Type == PreferenceLossType.Orpo || o.RpoAlpha > 0) && p.ChosenNll is null)
            throw new ArgumentException($"preference loss '{o.Type}'{(o.RpoAlpha > 0 ? " with rpo_alpha" : "")}: the chosen responses' NLL is required.");

        var lengthChosen = Tensor.FromArray(p.ChosenLengths, batch);
        var lengthRejected = Tensor.FromArray(p.RejectedLengths, batch);
        Tensor Average(Tensor sum, Tensor length) => Ops.Reshape(sum, batch) / length;
        bool averaged = o.LengthNormalize || o.Type is PreferenceLossType.Ipo;
        Tensor PolicyW() => averaged ? Average(p.PolicyChosen, lengthChosen) : Ops.Reshape(p.PolicyChosen, batch);
        Tensor PolicyL() => averaged ? Average(p.PolicyRejected, lengthRejected) : Ops.Reshape(p.PolicyRejected, batch);

        Tensor losses;
        Tensor chosenReward, rejectedReward;
        float beta = o.Beta, eps = o.LabelSmoothing;
        switch (o.Type)
        {
            case PreferenceLossType.Simpo:
            {
                var w = Average(p.PolicyChosen, lengthChosen);
                var l = Average(p.PolicyRejected, lengthRejected);
                var h = beta * (w - l) - o.SimpoGamma;
                losses = -(1 - eps) * Ops.LogSigmoid(h) - eps * Ops.LogSigmoid(-h);
                chosenReward = beta * w;
                rejectedReward = beta * l;
                break;
            }
            case PreferenceLossType.Orpo:
            {
                var w = Average(p.PolicyChosen, lengthChosen);
                var l = Average(p.PolicyRejected, lengthRejected);
                // log odds(y) = log p − log(1 − p) with p the per-token average likelihood exp(ā).
                var logOdds = (w - l) - (Log1MinusExp(w) - Log1MinusExp(l));
                losses = p.ChosenNll! - beta * Ops.LogSigmoid(logOdds);
                chosenReward = beta * w;
                rejectedReward = beta * l;
                break;
            }
            default:
            {
                var refW = averaged ? Average(p.ReferenceChosen!, lengthChosen) : Ops.Reshape(p.ReferenceChosen!, batch);
                var refL = averaged ? Average(p.ReferenceRejected!, lengthRejected) : Ops.Reshape(p.ReferenceRejected!, batch);
                var ratioW = PolicyW() - refW;
                var ratioL = PolicyL() - refL;
                var logits = ratioW - ratioL;
                losses = o.Type switch
                {
                    PreferenceLossType.Sigmoid => -(1 - eps) * Ops.LogSigmoid(beta * logits) - eps * Ops.LogSigmoid(-beta * logits),
                    PreferenceLossType.Robust => (-(1 - eps) * Ops.LogSigmoid(beta * logits) + eps * Ops.LogSigmoid(-beta * logits)) / (1 - 2 * eps),
                    PreferenceLossType.Hinge => Ops.Clamp(1f - beta * logits, 0, float.PositiveInfinity),
                    PreferenceLossType.Ipo => Ops.Pow(logits - 1f / (2 * beta), 2),
                    PreferenceLossType.SppoHard => Ops.Pow(ratioW - 0.5f / beta, 2) + Ops.Pow(ratioL + 0.5f / beta, 2),
                    PreferenceLossType.Sppo => 0.5f * (Ops.Pow(ratioW - Target(p.WinRates!.Value.Chosen, beta), 2) + Ops.Pow(ratioL - Target(p.WinRates!.Value.Rejected, beta), 2)),
                    _ => throw new ArgumentOutOfRangeException(nameof(o), o.Type, "unknown preference loss"),
                };
                chosenReward = beta * ratioW;
                rejectedReward = beta * ratioL;
                break;
            }
        }
        var loss = Ops.Mean(losses);
        if (o.RpoAlpha > 0) loss = loss + o.RpoAlpha * p.ChosenNll!;

        var rc = chosenReward.ToArray();
        var rr = rejectedReward.ToArray();
        return new PreferenceLossResult(loss,
            rc.Average(), rr.Average(),
            rc.Zip(rr).Count(x => x.First > x.Second) / (float)batch,
            rc.Zip(rr).Average(x => x.First - x.Second),
            p.PolicyChosen.ToArray().Average(), p.PolicyRejected.ToArray().Average());
    }

    // SPPO's regression target (P̂ − ½)/β for the log-ratio of responses with estimated win-rates P̂.
    private static Tensor Target(float[] winRates, float beta) => Tensor.FromArray([.. winRates.Select(q => (q - 0.5f) / beta)], winRates.Length);

    // log(1 − exp(x)) for x < 0, as log(−expm1(x)) so it stays accurate for x near 0.
    private static Tensor Log1MinusExp(Tensor x) => Ops.Log(-(Ops.Exp(x) - 1f));
}
