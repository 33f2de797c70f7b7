using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Reins.Cli.Commands;
using Reins.Models.Checkpoints;

namespace Reins.Cli.Tests;

/// <summary>
/// `mpirun -np 2 reins …` on this machine (Debian's Open MPI, installed by the test when missing): two ranks train as
/// one process with twice the gradient accumulation, a resume may change the number of ranks, and a rank that dies ends
/// the whole job instead of leaving the other waiting.
/// </summary>
public sealed class MpiTests : IDisposable
{
    private const string Mpirun = "/usr/bin/mpirun";
    private readonly string dir = Path.Combine(Path.GetTempPath(), $"reins-mpi-{Guid.NewGuid():N}");
    private readonly string model, sft, pairs, prompts;

    public MpiTests()
    {
        Directory.CreateDirectory(dir);
        model = Path.Combine(dir, "base");
        string[] init = ["model", "init", "--arch", "gpt2", "--vocab-size", "260", "--hidden", "32", "--layers", "2", "--heads", "2", "--max-positions", "32", "--seed", "1", "--out", model];
        Assert.Equal(0, new RootCommand { ModelCommand.Create() }.Parse(init).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        var rng = new Random(1);
        string Word(string letters, int n) => new([.. Enumerable.Range(0, n).Select(_ => letters[rng.Next(letters.Length)])]);
        sft = Path.Combine(dir, "sft.jsonl");
        File.WriteAllLines(sft, Enumerable.Range(0, 64).Select(_ => new JsonObject { ["prompt"] = "q" + Word("xyz", 3), ["completion"] = Word("abc", 6) }.ToJsonString()));
        prompts = Path.Combine(dir, "prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 64).Select(_ => new JsonObject { ["prompt"] = "q" + Word("xyz", 3) }.ToJsonString()));
        pairs = Path.Combine(dir, "pairs.jsonl");
        File.WriteAllLines(pairs, Enumerable.Range(0, 64).Select(_ => new JsonObject { ["prompt"] = "q" + Word("xyz", 3), ["chosen"] = Word("ab", 5), ["rejected"] = Word("c", 5) }.ToJsonString()));
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // `reins` alone, or under mpirun with `ranks` ranks; its exit code, standard error and standard output.
    private static async Task<(int Code, string Error, string Output)> Reins(int ranks, TimeSpan timeout, params string[] args)
    {
        ProcessStartInfo info;
        if (ranks == 0) info = new ProcessStartInfo("dotnet");
        else
        {
            info = new ProcessStartInfo(Mpirun);
            foreach (var a in new[] { "-np", ranks.ToString(), "--oversubscribe", "--allow-run-as-root", "dotnet" }) info.ArgumentList.Add(a);
        }
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "reins.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        (info.RedirectStandardError, info.RedirectStandardOutput) = (true, true);
        using var process = Process.Start(info)!;
        using var cancel = new CancellationTokenSource(timeout);
        var error = process.StandardError.ReadToEndAsync(cancel.Token);
        var output = process.StandardOutput.ReadToEndAsync(cancel.Token);
        try { await process.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"reins {string.Join(' ', args)} on {ranks} ranks did not end in {timeout}.");
        }
        return (process.ExitCode, await error, await output);
    }

    private static async Task RequireMpirun()
    {
        await AptInstall.EnsureAsync(Mpirun, "openmpi-bin libopenmpi3");
        Assert.True(File.Exists(Mpirun), $"{Mpirun} is missing and could not be installed (apt-get install openmpi-bin libopenmpi3, as root).");
    }

    // A run in one process, then its counterpart on two ranks; both must succeed.
    private static async Task AloneThenOnTwoRanks(string[] alone, string[] together)
    {
        foreach (var (ranks, args) in new[] { (0, alone), (2, together) })
        {
            var run = await Reins(ranks, TimeSpan.FromMinutes(2), args);
            Assert.True(run.Code == 0, run.Error);
        }
    }

    private static double[] Losses(string run) => Column(run, "loss");

    private static double[] Column(string run, string key) =>
        [.. File.ReadLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Where(r => r[key] is not null).Select(r => r[key]!.GetValue<double>())];

    private static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<double> actual, double relative)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            // Relative, with a floor for values near 0 (a Nash-MD loss of 0.009), whose last bits carry the batches' padding.
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * Math.Abs(expected[i]) + 1e-7, $"step {i + 1}: {actual[i]} against {expected[i]}");
    }

    private string[] Training(string method, string output, int accumulation, params string[] more) => Training(method, output, accumulation, 6, more);

    private string[] Training(string method, string output, int accumulation, int steps, params string[] more) =>
        [method, "--model", model, "--train", method switch { "sft" => sft, "ppo" or "online-dpo" or "nash-md" => prompts, _ => pairs }, "--out", output, "--max-steps", steps.ToString(),
         "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", accumulation.ToString(), "--logging-steps", "1", "--learning-rate", "1e-3", "--seed", "3",
         // The online methods sample 8 tokens of each prompt and are paid for their length (a reward any rank computes alike).
         .. method is "ppo" or "online-dpo" or "nash-md" ? new[] { "--reward-function", "length:5", "--max-completion-length", "8", "--max-prompt-length", "8" } : [], .. more];

    [Theory]
    [InlineData("sft")]
    [InlineData("dpo")]
    [InlineData("ppo")]
    [InlineData("online-dpo")]
    [InlineData("nash-md")]
    public async Task TwoRanksTrainAsOneProcessWithTwiceTheAccumulation(string method)
    {
        await RequireMpirun();
        string one = Path.Combine(dir, $"{method}-one"), two = Path.Combine(dir, $"{method}-two");
        await AloneThenOnTwoRanks(Training(method, one, 2), Training(method, two, 1));
        // Each step's loss is the mean over both ranks' micro-batches, and rank 1 logged nothing of its own. The online
        // methods' rollouts were sampled and scored half on each rank, seeded as one process seeds them: the same completions, rewards and episodes.
        AssertClose(Losses(one), Losses(two), 1e-5);
        Assert.Equal(6, Losses(two).Length);
        if (method is "ppo" or "online-dpo" or "nash-md")
        {
            foreach (var key in new[] { "reward", "episode" }) AssertClose(Column(one, key), Column(two, key), 1e-5);
            // The KL is a small difference of log-probs, so its last digits carry the batches' different padding: absolute.
            Assert.All(Column(one, "objective/kl").Zip(Column(two, "objective/kl")), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5, $"{p.Second} against {p.First}"));
        }
        // Every rank took the same steps: the weights rank 0 saved are those of the single process.
        var (a, b) = (HfCheckpoint.Load(one), HfCheckpoint.Load(two));
        foreach (var (p, q) in a.TrainableParameters.Zip(b.TrainableParameters))
            Assert.True(p.Span.ToArray().Zip(q.Span.ToArray()).All(x => Math.Abs(x.First - x.Second) <= 1e-5f), p.Name);
    }

    [Fact]
    public async Task ALoraRunWithDropoutTrainsAsOneProcess()
    {
        await RequireMpirun();
        // Dropout masks are seeded by step and micro-batch, not by the rank that runs it; the reference is the shared base.
        string one = Path.Combine(dir, "lora-one"), two = Path.Combine(dir, "lora-two");
        string[] lora = ["--use-peft", "--lora-dropout", "0.3", "--lora-target-modules", "c_attn", "c_fc"];
        await AloneThenOnTwoRanks(Training("dpo", one, 2, lora), Training("dpo", two, 1, lora));
        AssertClose(Losses(one), Losses(two), 1e-5);
        Assert.True(File.Exists(Path.Combine(two, "adapter_model.safetensors")));
        var (a, b) = (new SafeTensorsReader(Path.Combine(one, "adapter_model.safetensors")), new SafeTensorsReader(Path.Combine(two, "adapter_model.safetensors")));
        Assert.Equal(a.Tensors.Select(t => t.Name).Order(), b.Tensors.Select(t => t.Name).Order());
        foreach (var t in a.Tensors)
            Assert.True(a.ReadFloats(t.Name).Zip(b.ReadFloats(t.Name)).All(x => Math.Abs(x.First - x.Second) <= 1e-5f), t.Name);
    }

    [Fact]
    public async Task AnIterativeMethodSamplesItsSharesAndTrainsAsOneProcess()
    {
        await RequireMpirun();
        // Seven prompts an iteration: the ranks sample 3 and 4 of them, and every prompt's samples are seeded as one process seeds them.
        string[] Sppo(string output, int accumulation) =>
            ["sppo", "--model", model, "--train", prompts, "--out", output, "--iterations", "2", "--num-generations", "4", "--prompts-per-iteration", "7",
             "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", accumulation.ToString(), "--seed", "3", "--reward-function", "length:5",
             "--max-completion-length", "8", "--max-prompt-length", "8", "--learning-rate", "1e-3", "--beta", "0.1"];
        string one = Path.Combine(dir, "sppo-one"), two = Path.Combine(dir, "sppo-two");
        await AloneThenOnTwoRanks(Sppo(one, 2), Sppo(two, 1));
        foreach (var key in new[] { "dpo/loss", "reward", "episode", "pairs/kept" }) AssertClose(Column(one, key), Column(two, key), 1e-5);
        Assert.Equal(2, Column(two, "reward").Length);
    }

    [Fact]
    public async Task CritiqueGrpoRefinesAlikeOnEveryRank()
    {
        await RequireMpirun();
        // The gathered rollout's failed groups are refined by every rank alike (a response is right when it contains an "a").
        string questions = Path.Combine(dir, "questions.jsonl");
        File.WriteAllLines(questions, File.ReadAllLines(prompts).Select(l => { var o = JsonNode.Parse(l)!.AsObject(); o["answer"] = "a"; return o.ToJsonString(); }));
        string[] Grpo(string output, int accumulation) =>
            ["grpo", "--model", model, "--train", questions, "--out", output, "--max-steps", "3", "--per-device-train-batch-size", "4",
             "--gradient-accumulation-steps", accumulation.ToString(), "--logging-steps", "1", "--seed", "3", "--reward-function", "contains",
             "--max-completion-length", "8", "--max-prompt-length", "8", "--learning-rate", "1e-3", "--critique-refinements", "1", "--critique-type", "ground_truth"];
        string one = Path.Combine(dir, "critique-one"), two = Path.Combine(dir, "critique-two");
        await AloneThenOnTwoRanks(Grpo(one, 2), Grpo(two, 1));
        foreach (var key in new[] { "loss", "reward", "episode", "critique/refined_fraction" }) AssertClose(Column(one, key), Column(two, key), 1e-5);
        Assert.Contains(Column(two, "critique/refined_fraction"), f => f > 0);
    }

    [Fact]
    public async Task AResumeMayChangeTheNumberOfRanks()
    {
        await RequireMpirun();
        string one = Path.Combine(dir, "one");
        Assert.Equal(0, (await Reins(0, TimeSpan.FromMinutes(2), Training("sft", one, 2, "--save-steps", "3"))).Code);
        // The same run stopped at its step-3 checkpoint, then resumed on two ranks from what one process saved.
        string resumed = Path.Combine(dir, "resumed");
        Directory.CreateDirectory(resumed);
        foreach (var file in Directory.GetFiles(one)) File.Copy(file, Path.Combine(resumed, Path.GetFileName(file)));
        var checkpoint = Path.Combine(resumed, "checkpoint-3");
        Directory.CreateDirectory(checkpoint);
        foreach (var file in Directory.GetFiles(Path.Combine(one, "checkpoint-3"))) File.Copy(file, Path.Combine(checkpoint, Path.GetFileName(file)));
        var run = await Reins(2, TimeSpan.FromMinutes(2), Training("sft", resumed, 1, "--save-steps", "3", "--resume"));
        Assert.True(run.Code == 0, run.Error);
        AssertClose(Losses(one), Losses(resumed), 1e-5);
    }

    [Fact]
    public async Task ARankThatDiesEndsTheJobWithAnError()
    {
        await RequireMpirun();
        string run = Path.Combine(dir, "dying");
        var job = Reins(2, TimeSpan.FromMinutes(2), Training("sft", run, 1, 100_000));
        // Once both ranks train, rank 1 is killed outright.
        var clock = Stopwatch.StartNew();
        int? victim = null;
        while (victim is null && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(200);
            if (File.Exists(Path.Combine(run, "metrics.jsonl")) && File.ReadLines(Path.Combine(run, "metrics.jsonl")).Count() >= 2) victim = Rank(1, run);
        }
        Assert.True(victim is not null, "the two ranks did not start training within 60 s");
        Process.GetProcessById(victim!.Value).Kill();
        var (code, error, output) = await job;
        Assert.NotEqual(0, code);
        Assert.Contains("rank 1", error + output);
        Assert.Null(Rank(0, run));
    }

    [Fact]
    public async Task BenchTrainAndPretrainRunDataParallelAndOtherCommandsAreRefused()
    {
        await RequireMpirun();
        var bench = await Reins(2, TimeSpan.FromMinutes(2), "bench", "train", "--config", "tiny", "--threads", "1", "--seconds", "0.5");
        Assert.True(bench.Code == 0, bench.Error);
        // One JSON line, rank 0's, counting both ranks' tokens, and nothing else on stdout.
        var row = JsonNode.Parse(Assert.Single(bench.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)))!;
        Assert.Equal(("train", 2), (row["bench"]!.GetValue<string>(), row["ranks"]!.GetValue<int>()));
        Assert.True(row["train_tokens_per_s"]!.GetValue<double>() > 0);
        // pretrain too: rank 0 reports the ranks' mean loss once and writes the one checkpoint.
        var pretrain = await Reins(2, TimeSpan.FromMinutes(2), "pretrain", "--config", "tiny", "--max-steps", "2", "--out", Path.Combine(dir, "pretrained"));
        Assert.True(pretrain.Code == 0, pretrain.Error);
        var summary = JsonNode.Parse(Assert.Single(pretrain.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)))!;
        Assert.True(float.IsFinite(summary["loss_last"]!.GetValue<float>()));
        Assert.True(File.Exists(Path.Combine(dir, "pretrained", "model.safetensors")));
        // A command that would run once per rank, each writing the same outputs, is refused before it starts.
        var generate = await Reins(2, TimeSpan.FromMinutes(2), "generate", "--model", model, "--input", prompts, "--output", Path.Combine(dir, "out.jsonl"));
        Assert.NotEqual(0, generate.Code);
        Assert.Contains("reins generate does not run data-parallel", generate.Error);
        Assert.False(File.Exists(Path.Combine(dir, "out.jsonl")));
    }

    // The process of rank `rank` of the job writing to `run`, found by its environment and command line.
    private static int? Rank(int rank, string run)
    {
        foreach (var proc in Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                string environ = File.ReadAllText(Path.Combine(proc, "environ")), cmdline = File.ReadAllText(Path.Combine(proc, "cmdline"));
                if (cmdline.Contains(run, StringComparison.Ordinal) && cmdline.Contains("reins.dll", StringComparison.Ordinal) && environ.Contains($"\0OMPI_COMM_WORLD_RANK={rank}\0", StringComparison.Ordinal))
                    return int.Parse(Path.GetFileName(proc));
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return null;
    }
}
