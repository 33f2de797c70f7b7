using System.Text.Json.Nodes;
using Reins.Alignment.Objectives;
using Reins.Rewards.PreferenceModels;
using Reins.Tensors;

namespace Reins.Alignment.Tests;

/// <summary>
/// The general preference model's embedding, skew-symmetric score and loss: against an independent PyTorch
/// implementation (tools/make_gpm_fixtures.py), finite differences, and the invariants the construction promises.
/// </summary>
public class GeneralPreferenceLossTests
{
    private static readonly JsonArray Cases = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf("general_preference.json")))!.AsArray();

    private static float[] Floats(JsonNode node, string key) => [.. node[key]!.AsArray().Select(x => (float)x!.GetValue<double>())];

    private static void Close(double want, double got, string what, double tolerance = 1e-5) =>
        Assert.True(Math.Abs(got - want) <= 1e-6 + tolerance * Math.Abs(want), $"{what}: {got} vs PyTorch {want}");

    // The loss of one fixture case from value-head outputs and gate logits, as the trainer composes it.
    private static (Tensor Loss, Tensor Vectors, Tensor Scores, Tensor? Eigenvalues) Loss(JsonNode c, Tensor chosen, Tensor rejected, Tensor? gates)
    {
        int pairs = c["pairs"]!.GetValue<int>();
        var center = c["center"] switch { null => null, JsonArray a => a.Select(x => (float)x!.GetValue<double>()).ToArray(), _ => null };
        var v = GeneralPreferenceModel.Vectors(Ops.Concat(0, chosen, rejected), centered: c["center"] is not null, center);
        var eigenvalues = gates is null ? null : GeneralPreferenceModel.Eigenvalues(gates);
        var scores = GeneralPreferenceModel.SkewScores(Ops.Narrow0(v, 0, pairs), Ops.Narrow0(v, pairs, pairs), eigenvalues);
        var margins = c["margins"] is null ? default : Floats(c, "margins");
        return (GeneralPreferenceLoss.Compute(scores, (float)c["tau"]!.GetValue<double>(), margins), v, scores, eigenvalues);
    }

    [Fact]
    public void EmbeddingsScoresLossAndGradientsMatchPyTorch()
    {
        Assert.Equal(4, Cases.Count);
        foreach (var c in Cases)
        {
            int pairs = c!["pairs"]!.GetValue<int>(), dim = c["dim"]!.GetValue<int>();
            var chosen = Tensor.Parameter("uc", Tensor.FromArray(Floats(c, "chosen"), pairs, dim));
            var rejected = Tensor.Parameter("ur", Tensor.FromArray(Floats(c, "rejected"), pairs, dim));
            var gates = c["gates"] is null ? null : Tensor.Parameter("g", Tensor.FromArray(Floats(c, "gates"), pairs, dim / 2));
            string name = $"case dim {dim}, {pairs} pairs";
            using (var tape = new Tape())
            {
                var (loss, v, scores, eigenvalues) = Loss(c, chosen, rejected, gates);
                for (int i = 0; i < v.Size; i++) Close(Floats(c, "vectors")[i], v.ToArray()[i], $"{name}: v[{i}]");
                if (eigenvalues is not null) for (int i = 0; i < eigenvalues.Size; i++) Close(Floats(c, "eigenvalues")[i], eigenvalues.ToArray()[i], $"{name}: lambda[{i}]");
                for (int i = 0; i < pairs; i++) Close(Floats(c, "scores")[i], scores.ToArray()[i], $"{name}: s[{i}]");
                Close(c["loss"]!.GetValue<double>(), loss.Item(), $"{name}: loss");
                tape.Backward(loss);
            }
            foreach (var (tensor, key) in new[] { (chosen, "grad_chosen"), (rejected, "grad_rejected"), (gates, "grad_gates") })
                if (tensor is not null)
                    for (int i = 0; i < tensor.Size; i++) Close(Floats(c, key)[i], tensor.Grad!.ToArray()[i], $"{name}: {key}[{i}]", 1e-4);
        }
    }

    [Fact]
    public void GradientsMatchFiniteDifferencesThroughCentringNormalisationAndGates()
    {
        var c = Cases[1]!;
        int pairs = c["pairs"]!.GetValue<int>(), dim = c["dim"]!.GetValue<int>();
        float[] uc = Floats(c, "chosen"), ur = Floats(c, "rejected"), g = Floats(c, "gates");
        var chosen = Tensor.Parameter("uc", Tensor.FromArray(uc, pairs, dim));
        var gates = Tensor.Parameter("g", Tensor.FromArray(g, pairs, dim / 2));
        using (var tape = new Tape()) tape.Backward(Loss(c, chosen, Tensor.FromArray(ur, pairs, dim), gates).Loss);
        double At(float[] a, float[] b)
        {
            using var _ = Tape.NoGrad();
            return Loss(c, Tensor.FromArray(a, pairs, dim), Tensor.FromArray(ur, pairs, dim), Tensor.FromArray(b, pairs, dim / 2)).Loss.Item();
        }
        const float h = 1e-2f;
        foreach (var (values, tensor, which) in new[] { (uc, chosen, "u"), (g, gates, "g") })
            for (int i = 0; i < values.Length; i++)
            {
                var plus = (float[])values.Clone(); plus[i] += h;
                var minus = (float[])values.Clone(); minus[i] -= h;
                double numeric = which == "u" ? (At(plus, g) - At(minus, g)) / (2 * h) : (At(uc, plus) - At(uc, minus)) / (2 * h);
                double analytic = tensor.Grad!.ToArray()[i];
                Assert.True(Math.Abs(analytic - numeric) <= 2e-3 * Math.Max(1, Math.Abs(numeric)), $"d loss/d {which}[{i}]: {analytic} vs {numeric}");
            }
    }

    [Fact]
    public void TheScoreIsAntisymmetricSoThePairsProbabilitiesSumToOne()
    {
        var rng = new Rng(3);
        float[] Random(int n) => [.. Enumerable.Range(0, n).Select(_ => rng.NextNormal())];
        var a = Tensor.FromArray(Random(12), 3, 4);
        var b = Tensor.FromArray(Random(12), 3, 4);
        var lambda = GeneralPreferenceModel.Eigenvalues(Tensor.FromArray(Random(6), 3, 2));
        var ab = GeneralPreferenceModel.SkewScores(a, b, lambda).ToArray();
        var ba = GeneralPreferenceModel.SkewScores(b, a, lambda).ToArray();
        var aa = GeneralPreferenceModel.SkewScores(a, a, lambda).ToArray();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(-ab[i], ba[i], 6);
            Assert.Equal(0, aa[i], 6);
            Assert.Equal(1, 1 / (1 + Math.Exp(-ab[i])) + 1 / (1 + Math.Exp(-ba[i])), 6);
            // The scalar scorer used at inference agrees with the tensor one used in training.
            Assert.Equal(ab[i], GeneralPreferenceModel.SkewScore(a.ToArray().AsSpan(i * 4, 4), b.ToArray().AsSpan(i * 4, 4), lambda.ToArray().AsSpan(i * 2, 2)), 5);
        }
        // The eigenvalues are k·softmax: positive, summing to k.
        for (int i = 0; i < 3; i++) Assert.Equal(2, lambda.ToArray()[2 * i] + lambda.ToArray()[2 * i + 1], 5);
    }

    [Fact]
    public void ThreeEmbeddingsAt120DegreesPreferEachOtherInACycle()
    {
        // v₀ ≻ v₁ ≻ v₂ ≻ v₀, each with the same probability: the relation no scalar reward can hold.
        float[] At(double degrees) => [(float)Math.Cos(degrees * Math.PI / 180), (float)Math.Sin(degrees * Math.PI / 180)];
        float[][] v = [At(0), At(120), At(240)];
        double P(int i, int j) => 1 / (1 + Math.Exp(-GeneralPreferenceModel.SkewScore(v[i], v[j], default) / 0.1));
        Assert.True(P(0, 1) > 0.99 && P(1, 2) > 0.99 && P(2, 0) > 0.99, $"{P(0, 1)}, {P(1, 2)}, {P(2, 0)}");
        Assert.Equal(P(0, 1), P(1, 2), 6);
    }

    [Fact]
    public void BatchCentringIgnoresAShiftEveryResponseShares()
    {
        // The component every response shares is what leaves the embeddings nearly parallel; centring removes it exactly.
        var rng = new Rng(5);
        var u = Enumerable.Range(0, 16).Select(_ => rng.NextNormal()).ToArray();
        var shifted = u.Select((x, i) => x + (i % 2 == 0 ? 40f : -25f)).ToArray();
        var plain = GeneralPreferenceModel.Vectors(Tensor.FromArray(u, 8, 2), centered: true, null).ToArray();
        var moved = GeneralPreferenceModel.Vectors(Tensor.FromArray(shifted, 8, 2), centered: true, null).ToArray();
        for (int i = 0; i < 16; i++) Assert.True(Math.Abs(plain[i] - moved[i]) < 1e-5, $"v[{i}]: {plain[i]} vs {moved[i]}");
        // Uncentred, the shift dominates: every vector points almost the same way.
        var raw = GeneralPreferenceModel.Vectors(Tensor.FromArray(shifted, 8, 2), centered: false, null).ToArray();
        for (int r = 1; r < 8; r++) Assert.True(raw[0] * raw[2 * r] + raw[1] * raw[2 * r + 1] > 0.99);
    }

    [Fact]
    public void BadSettingsAreRefusedByName()
    {
        Assert.Contains("value_head_dim", Assert.Throws<ArgumentException>(() => new GeneralPreferenceSettings { ValueHeadDim = 3 }.Validate()).Message);
        Assert.Contains("tau", Assert.Throws<ArgumentException>(() => new GeneralPreferenceSettings { Tau = 0 }.Validate()).Message);
        Assert.Contains("add_prompt_head", Assert.Throws<ArgumentException>(() => new GeneralPreferenceSettings { PromptHead = true }.Validate()).Message);
        Assert.Contains("tau", Assert.Throws<ArgumentOutOfRangeException>(() => GeneralPreferenceLoss.Compute(Tensor.FromArray([1f], 1), 0f)).Message);
    }
}
