using Reins.Tensors;

namespace Reins.Tensors.Tests;

/// <summary>
/// Central finite differences against the tape's gradients. The scalar probed is L = Σ w ⊙ f(x) with fixed random
/// weights w, so every output element and every input element is checked, not just a symmetric sum.
/// </summary>
internal static class GradCheck
{
    public static Tensor Input(int seed, float low, float high, params int[] shape)
    {
        var t = Tensor.Uniform(new Rng((ulong)seed), low, high, shape);
        t.RequiresGrad = true;
        return t;
    }

    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, float eps = 1e-2f, double rtol = 1e-2, double atol = 2e-3, int maxElements = 64)
    {
        float[] weights;
        var analytic = new float[inputs.Length][];
        foreach (var x in inputs) x.ClearGrad();
        using (var tape = new Tape())
        {
            var y = f(inputs);
            weights = Tensor.Uniform(new Rng(99), -1, 1, y.Shape).ToArray();
            var loss = Ops.Sum(y * Tensor.FromArray(weights, y.Shape));
            tape.Backward(loss);
            for (int i = 0; i < inputs.Length; i++)
                analytic[i] = inputs[i].RequiresGrad ? inputs[i].Grad?.ToArray() ?? new float[inputs[i].Size] : [];
        }

        double Probe()
        {
            using var scope = new Tape(recordGradients: false);
            var y = f(inputs).Span;
            double s = 0;
            for (int j = 0; j < y.Length; j++) s += (double)weights[j] * y[j];
            return s;
        }

        for (int i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].RequiresGrad) continue;
            var x = inputs[i].Span;
            int stride = Math.Max(1, x.Length / maxElements);
            for (int e = 0; e < x.Length; e += stride)
            {
                float orig = x[e];
                x[e] = orig + eps; double plus = Probe();
                x[e] = orig - eps; double minus = Probe();
                x[e] = orig;
                double numeric = (plus - minus) / (2 * eps);
                double diff = Math.Abs(numeric - analytic[i][e]);
                Assert.True(diff <= atol + rtol * Math.Abs(numeric),
                    $"input {i} element {e}: analytic {analytic[i][e]:G6}, numeric {numeric:G6}");
            }
        }
    }
}
