using System.Diagnostics;

namespace Reins.Cli.Tests;

/// <summary>The built `reins` run as a user runs it: its own process, stdout and stderr redirected.</summary>
internal static class ReinsProcess
{
    public static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "reins.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }
}
