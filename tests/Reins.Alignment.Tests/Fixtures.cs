namespace Reins.Alignment.Tests;

/// <summary>Files committed under tests/fixtures, written by the scripts in tools/.</summary>
internal static class Fixtures
{
    public static string PathOf(string file)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures", file);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"Fixture {file} not found above {AppContext.BaseDirectory}; the tools/make_*.py scripts write them.");
    }
}
