using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reins.Rewards.Sources;

/// <summary>
/// Scores with an external program speaking JSON lines: for every request it reads one object on stdin (see
/// <see cref="ScoringRequestJson.ToJson"/>) and writes one line on stdout, a number or {"reward": number} (null = does
/// not apply), in request order; blank lines are skipped. The program is started once through the shell and kept
/// running across batches, so it may load a model or a test harness once. Its stderr goes to ours.
/// </summary>
public sealed class CommandRewardSource(string command, string name = "command") : IRewardSource, IDisposable
{
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
        }, cancellation);
        var scores = new float[requests.Count];
        try
        {
            for (int i = 0; i < scores.Length; i++)
            {
                string? line;
                do line = p.StandardOutput.ReadLineAsync(cancellation).AsTask().GetAwaiter().GetResult();
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
            // The conversation is out of step now; the next batch starts a fresh program.
            Dispose();
            throw;
        }
        return scores;
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
