using Reins.Tensors;
using Reins.Tensors.Optim;

namespace Reins.Tensors.Tests;

public class OptimizerTests
{
    private static Tensor Param(params float[] v) => Tensor.Parameter("p", Tensor.FromArray(v, v.Length));

    private static void SetGrad(Tensor p, params float[] g)
    {
        using var tape = new Tape();
        // d/dp Σ g·p = g, so the tape writes exactly g into the gradient.
        tape.Backward(Ops.Sum(p * Tensor.FromArray(g, g.Length)));
    }

    [Fact]
    public void AdamWMatchesTheAlgorithmWrittenOutInDouble()
    {
        var p = Param(1f, -2f);
        var opt = new AdamW([p], learningRate: 0.1f, beta1: 0.9f, beta2: 0.99f, epsilon: 1e-3f, weightDecay: 0.5f);
        double[] w = [1, -2], m = [0, 0], v = [0, 0];
        double[][] grads = [[0.5, -1], [2, 0.25], [-0.3, 0.7]];
        for (int t = 1; t <= grads.Length; t++)
        {
            p.ZeroGrad();
            SetGrad(p, grads[t - 1].Select(x => (float)x).ToArray());
            opt.Step();
            for (int i = 0; i < 2; i++)
            {
                double g = grads[t - 1][i];
                w[i] *= 1 - 0.1 * 0.5;
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.99 * v[i] + 0.01 * g * g;
                double mhat = m[i] / (1 - Math.Pow(0.9, t));
                double denom = Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(0.99, t)) + 1e-3;
                w[i] -= 0.1 * mhat / denom;
            }
            Assert.Equal(w[0], p.Span[0], 5);
            Assert.Equal(w[1], p.Span[1], 5);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SgdMomentumMatchesPyTorchsDefinition(bool nesterov)
    {
        var p = Param(1f);
        var opt = new Sgd([p], learningRate: 0.1f, momentum: 0.9f, nesterov: nesterov);
        double w = 1, buf = 0;
        double[] grads = [1, -2, 0.5];
        for (int t = 0; t < grads.Length; t++)
        {
            p.ZeroGrad();
            SetGrad(p, (float)grads[t]);
            opt.Step();
            buf = t == 0 ? grads[t] : 0.9 * buf + grads[t];
            w -= 0.1 * (nesterov ? grads[t] + 0.9 * buf : buf);
            Assert.Equal(w, p.Span[0], 5);
        }
    }

    [Fact]
    public void ClipGradNormScalesToTheMaximum()
    {
        var p = Param(0f, 0f);
        SetGrad(p, 3f, 4f);
        var opt = new Sgd([p], 0.1f);
        Assert.Equal(5f, opt.ClipGradNorm(1f), 5);
        Assert.Equal(0.6f, p.Grad!.Span[0], 4);
        Assert.Equal(0.8f, p.Grad!.Span[1], 4);
        Assert.Equal(1f, opt.ClipGradNorm(10f), 4);
        Assert.Equal(0.6f, p.Grad!.Span[0], 4);
    }

    [Fact]
    public void SchedulesFollowTheirFormulas()
    {
        var cos = new LearningRateSchedule(ScheduleKind.Cosine, 1f, 10, 110);
        Assert.Equal(0f, cos.At(0));
        Assert.Equal(0.5f, cos.At(5), 5);
        Assert.Equal(1f, cos.At(10), 5);
        Assert.Equal(0.5f, cos.At(60), 5);
        Assert.Equal(0f, cos.At(110), 5);
        var lin = new LearningRateSchedule(ScheduleKind.Linear, 2f, 0, 100);
        Assert.Equal(1f, lin.At(50), 5);
        Assert.Equal(2f, new LearningRateSchedule(ScheduleKind.Constant, 2f, 4, 100).At(90));
        Assert.Throws<ArgumentException>(() => LearningRateSchedule.ParseKind("exponential"));
    }

    [Fact]
    public void RestoredAdamWStateContinuesExactly()
    {
        float[] init = [0.3f, -0.7f, 1.1f];
        float[][] grads = [[1, 2, 3], [-1, 0.5f, 2], [0.2f, -0.4f, 1], [3, -1, 0], [0.1f, 0.1f, -2]];
        var a = Param(init);
        var optA = new AdamW([a], 0.05f, weightDecay: 0.1f);
        for (int i = 0; i < 3; i++) { a.ZeroGrad(); SetGrad(a, grads[i]); optA.Step(); }
        var saved = optA.StateTensors().ToDictionary(s => s.Name, s => (float[])s.Values.Clone());
        var resumed = Param(a.ToArray());
        var optB = new AdamW([resumed], 0.05f, weightDecay: 0.1f);
        optB.LoadState(saved, optA.StepCount);
        for (int i = 3; i < 5; i++)
        {
            a.ZeroGrad(); SetGrad(a, grads[i]); optA.Step();
            resumed.ZeroGrad(); SetGrad(resumed, grads[i]); optB.Step();
        }
        Assert.Equal(a.ToArray(), resumed.ToArray());
    }

    [Fact]
    public void RngStateRoundTrips()
    {
        var r = new Rng(42);
        r.NextUInt64();
        var state = r.GetState();
        var expected = Enumerable.Range(0, 5).Select(_ => r.NextUInt64()).ToArray();
        var s = new Rng(0);
        s.SetState(state);
        Assert.Equal(expected, Enumerable.Range(0, 5).Select(_ => s.NextUInt64()).ToArray());
        Assert.NotEqual(new Rng(1).NextUInt64(), new Rng(2).NextUInt64());
    }
}
