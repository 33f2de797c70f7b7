using System.Text.Json.Nodes;
using Reins.Alignment.Objectives;
using Reins.Tensors;

namespace Reins.Alignment.Tests;

/// <summary>
/// Every preference and reward loss against an independent PyTorch implementation (tools/make_loss_fixtures.py):
/// the loss and its gradient with respect to each input log-prob; plus the invariants a wrong formula breaks.
/// </summary>
public class PreferenceLossTests
{
    private static readonly JsonNode Fixture = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf("preference_losses.json")))!;

    private static float[] Floats(JsonNode? node) => node!.AsArray().Select(x => (float)x!.GetValue<double>()).ToArray();

    private static readonly string[] InputNames = ["policy_chosen", "policy_rejected", "reference_chosen", "reference_rejected", "chosen_nll"];

    private static Dictionary<string, Tensor> Inputs() => InputNames.ToDictionary(n => n, n =>
    {
        var values = Floats(Fixture["inputs"]![n]);
        return Tensor.Parameter(n, Tensor.FromArray(values, values.Length));
    });

    public static TheoryData<string> Cases => new()
    {
        "dpo", "cdpo", "robust", "hinge", "ipo", "dpo_length_normalized", "rpo", "simpo", "simpo_smoothed", "orpo", "sppo", "sppo_hard", "kto",
        "bradley_terry", "bradley_terry_margin_smoothing_center",
    };

    private static Tensor Loss(string name, Dictionary<string, Tensor> x)
    {
        var lc = Floats(Fixture["chosen_lengths"]);
        var lr = Floats(Fixture["rejected_lengths"]);
        Tensor Pref(PreferenceLossOptions o) => DirectPreferenceLoss.Compute(new PreferenceLogProbs(x["policy_chosen"], x["policy_rejected"],
            x["reference_chosen"], x["reference_rejected"], lc, lr, Ops.Reshape(x["chosen_nll"], 1)) { WinRates = (Floats(Fixture["win_chosen"]), Floats(Fixture["win_rejected"])) }, o).Loss;
        return name switch
        {
            "dpo" => Pref(new()),
            "cdpo" => Pref(new() { LabelSmoothing = 0.1f }),
            "robust" => Pref(new() { Type = PreferenceLossType.Robust, LabelSmoothing = 0.1f }),
            "hinge" => Pref(new() { Type = PreferenceLossType.Hinge }),
            "ipo" => Pref(new() { Type = PreferenceLossType.Ipo }),
            "dpo_length_normalized" => Pref(new() { Beta = 0.5f, LengthNormalize = true }),
            "rpo" => Pref(new() { RpoAlpha = 0.5f }),
            "simpo" => Pref(new() { Type = PreferenceLossType.Simpo, Beta = 2f, SimpoGamma = 0.5f }),
            "simpo_smoothed" => Pref(new() { Type = PreferenceLossType.Simpo, Beta = 2f, SimpoGamma = 0.5f, LabelSmoothing = 0.1f }),
            "orpo" => Pref(new() { Type = PreferenceLossType.Orpo }),
            "sppo" => Pref(new() { Type = PreferenceLossType.Sppo }),
            "sppo_hard" => Pref(new() { Type = PreferenceLossType.SppoHard }),
            "kto" => KtoLoss.Compute(x["policy_chosen"], x["reference_chosen"], Fixture["labels"]!.AsArray().Select(b => b!.GetValue<bool>()).ToArray(),
                Tensor.FromArray(Floats(Fixture["kl_policy"]), 6), Tensor.FromArray(Floats(Fixture["kl_reference"]), 6), new KtoOptions { UndesirableWeight = 1.33f }).Loss,
            "bradley_terry" => BradleyTerryLoss.Compute(x["policy_chosen"] / 10f, x["policy_rejected"] / 10f),
            "bradley_terry_margin_smoothing_center" => BradleyTerryLoss.Compute(x["policy_chosen"] / 10f, x["policy_rejected"] / 10f,
                Floats(Fixture["margins"]), labelSmoothing: 0.1f, centerRewardsCoefficient: 0.01f),
            _ => throw new ArgumentException(name),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradientsMatchPyTorch(string name)
    {
        var x = Inputs();
        var expected = Fixture["cases"]![name]!;
        using (var tape = new Tape())
        {
            var loss = Loss(name, x);
            float want = (float)expected["loss"]!.GetValue<double>();
            Assert.True(Math.Abs(loss.Item() - want) <= 1e-5 * Math.Max(1, Math.Abs(want)), $"{name}: loss {loss.Item()} vs PyTorch {want}");
            tape.Backward(loss);
        }
        foreach (var n in InputNames)
        {
            var want = Floats(expected["grads"]![n]);
            var got = x[n].Grad?.ToArray() ?? new float[want.Length];
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(got[i] - want[i]) <= 1e-5 + 1e-4 * Math.Abs(want[i]), $"{name}: d/d{n}[{i}] = {got[i]}, PyTorch {want[i]}");
        }
    }

    private static PreferenceLogProbs Pair(float pw, float pl, float rw, float rl) =>
        new(Tensor.FromArray([pw], 1), Tensor.FromArray([pl], 1), Tensor.FromArray([rw], 1), Tensor.FromArray([rl], 1), [4], [4]);

    [Fact]
    public void DpoIsLn2WithZeroRewardsWhenPolicyEqualsReference()
    {
        var r = DirectPreferenceLoss.Compute(Pair(-7, -9, -7, -9), new PreferenceLossOptions());
        Assert.Equal(MathF.Log(2), r.Loss.Item(), 6);
        Assert.Equal(0f, r.RewardsChosen);
        Assert.Equal(0f, r.RewardsRejected);
        Assert.Equal(0f, r.RewardsAccuracy);
    }

    [Fact]
    public void DpoHandComputedCase()
    {
        // β = 0.1, policy (−10, −12), reference (−11, −11): h = 0.1·(1 − (−1)) = 0.2, loss = −log σ(0.2).
        var r = DirectPreferenceLoss.Compute(Pair(-10, -12, -11, -11), new PreferenceLossOptions { Beta = 0.1f });
        Assert.Equal(0.5981, r.Loss.Item(), 4);
        Assert.Equal(0.1f, r.RewardsChosen, 6);
        Assert.Equal(-0.1f, r.RewardsRejected, 6);
        Assert.Equal(1f, r.RewardsAccuracy);
        Assert.Equal(0.2f, r.RewardsMargin, 6);
    }

    [Fact]
    public void RobustDpoIsUnbiasedUnderKnownLabelNoise()
    {
        // Chowdhury et al.: with flips at rate ε the expected robust loss equals the clean loss.
        const float eps = 0.2f;
        var o = new PreferenceLossOptions { Type = PreferenceLossType.Robust, LabelSmoothing = eps };
        float clean = DirectPreferenceLoss.Compute(Pair(-10, -12, -11, -11), new PreferenceLossOptions()).Loss.Item();
        float right = DirectPreferenceLoss.Compute(Pair(-10, -12, -11, -11), o).Loss.Item();
        float flipped = DirectPreferenceLoss.Compute(Pair(-12, -10, -11, -11), o).Loss.Item();
        Assert.Equal(clean, (1 - eps) * right + eps * flipped, 5);
    }

    [Fact]
    public void SppoIsZeroWhereEachLogRatioMeetsItsTargetAndTrlsHardVariantIsTwiceItWithCertainWinRates()
    {
        // β = 0.5: win-rates 0.8 and 0.3 ask for log-ratios (0.8 − ½)/β = 0.6 and (0.3 − ½)/β = −0.4.
        var sppo = new PreferenceLossOptions { Type = PreferenceLossType.Sppo, Beta = 0.5f };
        var met = Pair(-10f + 0.6f, -12f - 0.4f, -10, -12) with { WinRates = ([0.8f], [0.3f]) };
        Assert.Equal(0f, DirectPreferenceLoss.Compute(met, sppo).Loss.Item(), 6);
        // Equal win-rates of ½ ask the policy to stay at π_t: the loss is the squared log-ratios' mean.
        var moved = Pair(-9, -13, -10, -12) with { WinRates = ([0.5f], [0.5f]) };
        Assert.Equal(0.5f * (1 + 1), DirectPreferenceLoss.Compute(moved, sppo).Loss.Item(), 5);
        var certain = Pair(-9, -13, -10, -12) with { WinRates = ([1f], [0f]) };
        Assert.Equal(2 * DirectPreferenceLoss.Compute(certain, sppo).Loss.Item(),
            DirectPreferenceLoss.Compute(Pair(-9, -13, -10, -12), sppo with { Type = PreferenceLossType.SppoHard }).Loss.Item(), 5);
        Assert.Contains("chosen_probs_win", Assert.Throws<ArgumentException>(() => DirectPreferenceLoss.Compute(Pair(-9, -13, -10, -12), sppo)).Message);
    }

    [Fact]
    public void MissingInputsAreNamed()
    {
        var noRef = new PreferenceLogProbs(Tensor.FromArray([-1f], 1), Tensor.FromArray([-2f], 1), null, null, [1], [1]);
        Assert.Contains("reference", Assert.Throws<ArgumentException>(() => DirectPreferenceLoss.Compute(noRef, new PreferenceLossOptions())).Message);
        Assert.Contains("NLL", Assert.Throws<ArgumentException>(() => DirectPreferenceLoss.Compute(noRef, new PreferenceLossOptions { Type = PreferenceLossType.Orpo })).Message);
        // SimPO needs neither.
        Assert.True(float.IsFinite(DirectPreferenceLoss.Compute(noRef, new PreferenceLossOptions { Type = PreferenceLossType.Simpo }).Loss.Item()));
    }
}
