using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Models.Tests;

/// <summary>Locates files committed under tests/fixtures (written by tools/make_fixtures.py).</summary>
internal static class Fixtures
{
    public static string PathOf(string file)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "tests", "fixtures", file);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"Fixture {file} not found above {AppContext.BaseDirectory}; run tools/make_fixtures.py.");
    }

    /// <summary>
    /// Runs a fixture's left-padded batch (input_ids, attention_mask, targets) through <paramref name="model"/>, checks the
    /// logits and the loss against the fixture's (1e-4) and back-propagates the loss.
    /// </summary>
    public static void ForwardAndBackward(CausalLanguageModel model, SafeTensorsReader fx, string file)
    {
        int batch = fx.Info("input_ids").Shape[0], time = fx.Info("input_ids").Shape[1];
        var ids = fx.ReadInt64("input_ids").Select(x => (int)x).ToArray();
        var mask = fx.ReadInt64("attention_mask").Select(x => (float)x).ToArray();
        var targets = fx.ReadInt64("targets").Select(x => (int)x).ToArray();
        Assert.Equal(fx.ReadInt64("position_ids").Select(x => (int)x), CausalLanguageModel.PositionIds(mask, batch, time));
        using var tape = new Tape();
        var logits = model.Logits(ModelInput.Padded(ids, batch, time, mask));
        Assert.True(RelativeError(logits.Span, fx.ReadFloats("logits")) <= 1e-4, $"{file}: logits differ");
        var loss = Ops.CrossEntropy(Ops.Reshape(logits, batch * time, model.Config.VocabSize), targets);
        Assert.True(RelativeError(loss.Span, fx.ReadFloats("loss")) <= 1e-4, $"{file}: loss {loss.Item()} vs {fx.ReadFloats("loss")[0]}");
        tape.Backward(loss);
    }

    /// <summary>‖actual − expected‖∞ / ‖expected‖∞: one number that catches a wrong sign, term or transpose anywhere.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, scale = 1e-12;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(float.IsFinite(actual[i]), $"non-finite value {actual[i]} at {i}");
            diff = Math.Max(diff, Math.Abs(actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return diff / scale;
    }
}
