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
