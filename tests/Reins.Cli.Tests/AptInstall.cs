using System.Diagnostics;

namespace Reins.Cli.Tests;

/// <summary>
/// The README's test command needs only the .NET SDK: a test that needs a Debian package (chromium, Open MPI) installs it
/// with apt when the file it needs is missing, and its assertion names what is missing when that cannot be done.
/// </summary>
internal static class AptInstall
{
    public static async Task EnsureAsync(string file, string packages)
    {
        foreach (var args in new[] { $"install -y -qq {packages}", "update -qq", $"install -y -qq {packages}" })
        {
            if (File.Exists(file)) return;
            var info = new ProcessStartInfo("apt-get", args) { RedirectStandardOutput = true, RedirectStandardError = true };
            info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
            try
            {
                using var apt = Process.Start(info)!;
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
                await Task.WhenAll(apt.StandardOutput.ReadToEndAsync(timeout.Token), apt.StandardError.ReadToEndAsync(timeout.Token), apt.WaitForExitAsync(timeout.Token));
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or OperationCanceledException)
            {
                return; // no apt-get here, or it took too long
            }
        }
    }
}
