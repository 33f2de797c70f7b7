using System.Runtime.InteropServices;

namespace Reins.Cli.Commands;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM as one stop: the first cancels the running command, which ends at its next safe point (a
/// trainer saves a checkpoint first); further signals while it does are ignored, and a command still running
/// <see cref="Grace"/> later is ended with exit code 130. System.CommandLine's own handler is not used: a second signal
/// made it complete its task twice and crash with a stack trace.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    /// <summary>How long a stopped command may take to save and exit before the process ends anyway.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromMinutes(2);

    private readonly CancellationTokenSource stop = new();
    private readonly PosixSignalRegistration[] registrations;
    private int signalled;

    /// <summary>Takes over SIGINT and SIGTERM for the life of this object.</summary>
    public StopSignals() => registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => stop.Token;

    private void Handle(PosixSignalContext context)
    {
        context.Cancel = true;
        if (Interlocked.Exchange(ref signalled, 1) == 1) return;
        Console.Error.WriteLine($"reins: {context.Signal}: stopping at the next safe point (up to {Grace.TotalMinutes:G} minutes).");
        stop.Cancel();
        _ = Task.Delay(Grace).ContinueWith(_ => Environment.Exit(130), TaskScheduler.Default);
    }

    /// <summary>Gives the signals back.</summary>
    public void Dispose()
    {
        foreach (var registration in registrations) registration.Dispose();
        stop.Dispose();
    }
}
