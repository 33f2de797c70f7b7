using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reins.Rewards.Sources;

/// <summary>
/// Scores with an external program speaking JSON lines: for every request it reads one object on stdin (see
/// <see cref="ScoringRequestJson.ToJson"/>) and writes one line on stdout, a number or {"reward": number} (null = does
/// not apply), in request order; blank lines are skipped. The program is started once through the shell and kept
/// running across batches, so it may load a model or a test harness once. Its stderr goes to ours. A score that does
/// not arrive within <c>timeout</c> (default <see cref="DefaultTimeout"/>) of the request, or of the score before it,
/// is an error naming the program, which is stopped; the next batch starts it afresh.
/// </summary>
public sealed class CommandRewardSource(string command, string name = "command", TimeSpan? timeout = null) : IRewardSource, IDisposable
{
    /// <summary>How long a score may take when no timeout is given: 5 minutes.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    private readonly TimeSpan timeout = timeout ?? DefaultTimeout;
    private Process? process;

    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
    {
        var p = process ??= Start();
        // Written from another task: a program that answers each line as it reads it would otherwise fill its stdout
        // pipe while this thread is still writing, and both would wait forever.
        var writing = Task.Run(() =>
        {
            foreach (var request in requests) p.StandardInput.WriteLine(ScoringRequestJson.ToJson(request).ToJsonString());
            p.StandardInput.Flush();
        }, CancellationToken.None);
        var scores = new float[requests.Count];
        try
        {
            for (int i = 0; i < scores.Length; i++)
            {
                string? line;
                do line = ReadLine(p, i, scores.Length, cancellation);
                while (line is not null && string.IsNullOrWhiteSpace(line));
                if (line is null)
                {
                    p.WaitForExit(1000);
                    throw new InvalidDataException($"reward command '{command}' {(p.HasExited ? $"exited with code {p.ExitCode}" : "closed its stdout")} after {i} of {scores.Length} scores.");
                }
                JsonNode? node;
                try { node = JsonNode.Parse(line); }
                catch (JsonException e) { throw new InvalidDataException($"reward command '{command}', score {i + 1} of the batch: not JSON ({e.Message}): {line}"); }
                scores[i] = ScoringRequestJson.ParseScore(node, $"reward command '{command}', score {i + 1} of the batch");
            }
            writing.GetAwaiter().GetResult();
        }
        catch
        {
            // The conversation is out of step now; the next batch starts a fresh program. Stopping this one ends the
            // writer too (a broken pipe), whose failure is then of no interest.
            Dispose();
            writing.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            throw;
        }
        return scores;
    }

    // The next line of the program's output. A read of a pipe cannot be cancelled, so the wait for it is: on a timeout or
    // a stop the caller kills the program, which ends the read.
    private string? ReadLine(Process p, int index, int count, CancellationToken cancellation)
    {
        try { return p.StandardOutput.ReadLineAsync(CancellationToken.None).AsTask().WaitAsync(timeout, cancellation).GetAwaiter().GetResult(); }
        catch (TimeoutException)
        {
            throw new TimeoutException($"reward command '{command}': no score {index + 1} of {count} within {timeout.TotalSeconds:G} s (--reward-timeout).");
        }
    }

    private Process Start()
    {
        var (shell, flag) = OperatingSystem.IsWindows() ? ("cmd.exe", "/c") : ("/bin/sh", "-c");
        var info = new ProcessStartInfo(shell) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(flag);
        info.ArgumentList.Add(command);
        return Process.Start(info) ?? throw new InvalidOperationException($"reward command '{command}' could not be started.");
    }

    /// <summary>Stops the program (and anything it started).</summary>
    public void Dispose()
    {
        if (process is null) return;
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
        process = null;
    }
}
