using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace Reins.Cli.Tests;

/// <summary>
/// The symptoms an adversarial session found, each run as a user runs it: the real `reins` process, its exit code and
/// its stderr. A user error is one line starting "error:", exit code 1, no stack trace.
/// </summary>
public sealed class HardeningTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("reins-hard-").FullName;
    private readonly string model, data;

    public HardeningTests()
    {
        model = Path.Combine(dir, "base");
        Assert.Equal(0, Reins("model", "init", "--arch", "gpt2", "--vocab-size", "300", "--hidden", "32", "--layers", "1", "--heads", "2", "--max-positions", "64", "--out", model).Code);
        data = Write("sft.jsonl", string.Concat(Enumerable.Range(0, 16).Select(i => $"{{\"prompt\":\"q{i} \",\"completion\":\"fine\"}}\n")));
    }

    public void Dispose()
    {
        if (Directory.Exists(Path.Combine(dir, "full"))) Process.Start("umount", [Path.Combine(dir, "full")])!.WaitForExit();
        Directory.Delete(dir, recursive: true);
    }

    private string Write(string name, string text) => WriteBytes(name, Encoding.UTF8.GetBytes(text));

    private string WriteBytes(string name, byte[] bytes)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // A bounded run of reins.dll; the arguments are passed as given.
    private static (int Code, string Err) Reins(params string[] args) => Reins(TimeSpan.FromSeconds(120), args);

    private static (int Code, string Err) Reins(TimeSpan limit, params string[] args)
    {
        using var process = ReinsProcess.Start(args);
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"reins {string.Join(' ', args)} did not end within {limit}");
        }
        return (process.ExitCode, stderr.Result);
    }

    private static void OneLineError((int Code, string Err) result, string expected)
    {
        var lines = result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1, result.Code);
        Assert.DoesNotContain("Unhandled", result.Err);
        Assert.DoesNotContain("   at ", result.Err);
        Assert.True(lines[^1].StartsWith("error: ", StringComparison.Ordinal) && lines[^1].Contains(expected, StringComparison.Ordinal), result.Err);
    }

    private string[] Sft(string output, params string[] more) =>
        ["sft", "--model", model, "--train", data, "--out", Path.Combine(dir, output), "--max-steps", "2", "--max-length", "64", "--threads", "1", .. more];

    [Fact]
    public void BadSettingsAreOneLineNamingTheSetting()
    {
        OneLineError(Reins(Sft("a", "--adam-beta1", "1")), "adam_beta1: must be in [0, 1)");
        OneLineError(Reins(Sft("b", "--adam-beta2", "-0.5")), "adam_beta2: must be in [0, 1)");
        OneLineError(Reins(Sft("c", "--adam-epsilon", "0")), "adam_epsilon: must be a positive finite number");
        OneLineError(Reins(Sft("d", "--learning-rate", "Infinity")), "'learning_rate' must be a finite number, got Infinity");
        OneLineError(Reins(Sft("e", "--weight-decay", "NaN")), "'weight_decay' must be a finite number, got NaN");
        var config = Write("beta.json", """{"beta": 1e400}""");
        OneLineError(Reins("dpo", "--model", model, "--train", Write("p.jsonl", """{"prompt":"a","chosen":"b","rejected":"c"}""" + "\n"), "--config", config, "--out", Path.Combine(dir, "f")),
            "beta.json: 'beta' must be a finite number, got 1e400");
    }

    [Fact]
    public void BadPathsAreOneLineSayingWhatIsWrong()
    {
        var file = Write("a-file", "");
        OneLineError(Reins(["sft", "--model", model, "--train", data, "--out", file, "--max-steps", "1"]), "output_dir is a file, not a directory");
        OneLineError(Reins(["sft", "--model", model, "--train", dir, "--out", Path.Combine(dir, "o"), "--max-steps", "1"]), "is a directory; a text or JSONL file is needed");
        OneLineError(Reins(["sft", "--model", Path.Combine(dir, "nowhere"), "--train", data, "--out", Path.Combine(dir, "o")]), "no such checkpoint directory");
        OneLineError(Reins(["sft", "--model", Path.Combine(model, "config.json"), "--train", data, "--out", Path.Combine(dir, "o")]), $"is a file; give the checkpoint directory that holds config.json ({model})");
    }

    [Fact]
    public void ARecordOfTheWrongKindIsOneLineNamingItsLine()
    {
        var prompts = Write("prompts-only.jsonl", "{\"prompt\":\"a\"}\n");
        OneLineError(Reins(["sft", "--model", model, "--train", prompts, "--out", Path.Combine(dir, "k")]),
            "line 1: SFT takes language-modelling (\"text\" or \"messages\") or prompt-completion records, got PromptOnlyExample.");
    }

    [Fact]
    public void TextThatIsNotTextIsRefusedNamingFileAndLine()
    {
        var surrogate = Write("surrogate.jsonl", "{\"prompt\":\"q\",\"completion\":\"ok\"}\n{\"prompt\":\"a\\ud800b\",\"completion\":\"c\"}\n");
        OneLineError(Reins(["sft", "--model", model, "--train", surrogate, "--out", Path.Combine(dir, "s")]), "surrogate.jsonl:2: field \"prompt\": holds a lone surrogate");
        OneLineError(Reins(["generate", "--model", model, "--input", surrogate, "--output", Path.Combine(dir, "g.jsonl")]), "surrogate.jsonl:2: $.prompt holds a lone surrogate");
        var latin1 = WriteBytes("latin1.jsonl", [.. Encoding.UTF8.GetBytes("{\"prompt\":\"caf"), 0xE9, .. Encoding.UTF8.GetBytes("\",\"completion\":\"c\"}\n")]);
        OneLineError(Reins(["sft", "--model", model, "--train", latin1, "--out", Path.Combine(dir, "l")]), "latin1.jsonl:1: not valid UTF-8 at byte 15");
        // Skipped lines are counted; with every line skipped, nothing is left, which is an error too.
        var both = Reins(["sft", "--model", model, "--train", latin1, "--skip-invalid", "--out", Path.Combine(dir, "l2")]);
        OneLineError(both, "the dataset is empty");
    }

    [Fact]
    public void BrokenModelConfigsAreRefusedAtLoad()
    {
        string Variant(string name, Action<JsonObject> change)
        {
            var copy = Path.Combine(dir, name);
            Directory.CreateDirectory(copy);
            foreach (var f in Directory.GetFiles(model)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(copy, "config.json")))!.AsObject();
            change(config);
            File.WriteAllText(Path.Combine(copy, "config.json"), config.ToJsonString());
            return copy;
        }
        string[] Train(string m) => ["sft", "--model", m, "--train", data, "--out", Path.Combine(dir, "g-" + Path.GetFileName(m)), "--max-steps", "1"];
        OneLineError(Reins(Train(Variant("swish", c => c["activation_function"] = "swish9"))), "field 'activation_function' is 'swish9'");
        OneLineError(Reins(Train(Variant("eos", c => c["eos_token_id"] = 99999))), "field 'eos_token_id' (99999) is not an id of the vocabulary of 300");
        OneLineError(Reins(Train(Variant("float-vocab", c => c["vocab_size"] = 300.5))), "field 'vocab_size' must be an integer, got 300.5");
        var array = Variant("array", _ => { });
        File.WriteAllText(Path.Combine(array, "config.json"), "[]");
        OneLineError(Reins(Train(array)), "config.json: not a JSON object");

        // A tokenizer with an id past the model's 300 rows: refused at load, not an index error at the first text using it.
        var wide = Variant("wide-tokenizer", _ => { });
        var tokenizer = JsonNode.Parse(File.ReadAllText(Path.Combine(wide, "tokenizer.json")))!.AsObject();
        tokenizer["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = 400, ["content"] = "<|far|>", ["special"] = true });
        File.WriteAllText(Path.Combine(wide, "tokenizer.json"), tokenizer.ToJsonString());
        OneLineError(Reins(Train(wide)), "the tokenizer has 401 ids but the model's vocab_size is 300");

        // The same check where a reward model is loaded to score: reins rm score and a policy trainer's --reward-model.
        var rm = Path.Combine(dir, "rm");
        var pairs = Write("pairs.jsonl", string.Concat(Enumerable.Range(0, 4).Select(i => $"{{\"prompt\":\"q{i} \",\"chosen\":\"good\",\"rejected\":\"bad\"}}\n")));
        Assert.Equal(0, Reins("rm", "--model", model, "--train", pairs, "--max-steps", "1", "--out", rm).Code);
        File.Copy(Path.Combine(wide, "tokenizer.json"), Path.Combine(rm, "tokenizer.json"), overwrite: true);
        OneLineError(Reins("rm", "score", "--model", rm, "--input", pairs, "--output", Path.Combine(dir, "scored.jsonl")), "the tokenizer has 401 ids but the model's vocab_size is 300");
        var prompts = Write("prompts.jsonl", "{\"prompt\":\"q \"}\n");
        OneLineError(Reins("ppo", "--model", model, "--reward-model", rm, "--train", prompts, "--max-steps", "1", "--out", Path.Combine(dir, "ppo")), "the tokenizer has 401 ids but the model's vocab_size is 300");
    }

    [Fact]
    public void TrainingOnNothingIsAnErrorAndAPartialDropIsReported()
    {
        var tooLong = Write("long.jsonl", string.Concat(Enumerable.Range(0, 4).Select(_ => $"{{\"prompt\":\"{new string('x', 90)}\",\"completion\":\"ok\"}}\n")));
        OneLineError(Reins(["sft", "--model", model, "--train", tooLong, "--max-length", "60", "--out", Path.Combine(dir, "n")]),
            "sft: no training record is left to learn from after tokenisation (4 records tokenised; prompts too long 4");
        // The default max_length (1024) is more than the model's 64 positions: said before the first step, not at it.
        OneLineError(Reins(["sft", "--model", model, "--train", tooLong, "--out", Path.Combine(dir, "n2")]), "exceed the model's 64 positions; set max_length to 64 or less");

        var mixed = Write("mixed.jsonl", File.ReadAllText(data) + File.ReadAllText(tooLong));
        var run = Path.Combine(dir, "partial");
        var (code, err) = Reins(["sft", "--model", model, "--train", mixed, "--max-length", "60", "--max-steps", "2", "--out", run]);
        Assert.Equal(0, code);
        Assert.Contains("sft: tokenisation: 20 records tokenised; prompts too long 4", err);
        var first = JsonNode.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).First())!;
        Assert.Equal((0, 20, 4), (first["step"]!.GetValue<int>(), first["data/records"]!.GetValue<int>(), first["data/without_loss_tokens"]!.GetValue<int>()));
    }

    [Fact]
    public void ARunNeverShadowsAnotherAndAKilledOneLeavesNoStaleLock()
    {
        if (!OperatingSystem.IsLinux()) return;
        var prompts = Write("prompts.jsonl", string.Concat(Enumerable.Range(0, 8).Select(i => $"{{\"prompt\":\"{i}:\"}}\n")));
        var run = Path.Combine(dir, "shared");
        string[] Grpo(params string[] more) => ["grpo", "--model", model, "--train", prompts, "--reward-command", "cat > /dev/null", "--max-steps", "2",
            "--per-device-train-batch-size", "8", "--max-completion-length", "4", "--out", run, "--threads", "1", "--reward-timeout", "600", .. more];
        // The first run waits in its reward call (the program never answers) while holding the directory.
        using var first = ReinsProcess.Start(Grpo());
        var started = DateTime.UtcNow;
        while (!File.Exists(Path.Combine(run, "config.json")) && DateTime.UtcNow - started < TimeSpan.FromSeconds(60)) Thread.Sleep(100);
        Assert.True(File.Exists(Path.Combine(run, "config.json")), "the first run did not start");
        OneLineError(Reins(Grpo("--resume")), "another run is using this output directory");
        OneLineError(Reins(Sft("shared", "--overwrite-output-dir")), "another run is using this output directory");

        // kill -9 releases the OS lock with the process: the next run needs no clean-up to start.
        first.Kill();
        first.WaitForExit();
        Directory.CreateDirectory(Path.Combine(run, ".checkpoint-7.tmp-999999"));
        OneLineError(Reins(Sft("shared")), "output_dir already holds files of an earlier run; pass --resume");
        var (code, err) = Reins(Sft("shared", "--overwrite-output-dir"));
        Assert.True(code == 0, err);
        Assert.False(Directory.Exists(Path.Combine(run, ".checkpoint-7.tmp-999999")));
        Assert.Single(File.ReadLines(Path.Combine(run, "metrics.jsonl")));
    }

    [Fact]
    public void AFullDiskIsOneLineWithTheSpaceAndLeavesNoStagingBehind()
    {
        if (!OperatingSystem.IsLinux()) return;
        var full = Path.Combine(dir, "full");
        Directory.CreateDirectory(full);
        // A 160 KB disk: config.json fits, a checkpoint (weights and AdamW's two moments, about 300 KB) does not.
        using (var mount = Process.Start("mount", ["-t", "tmpfs", "-o", "size=160k", "tmpfs", full])!)
        {
            mount.WaitForExit();
            Assert.True(mount.ExitCode == 0, "this test mounts a small tmpfs, which needs root (CI runs as root)");
        }
        var run = Path.Combine(full, "run");
        var result = Reins(["sft", "--model", model, "--train", data, "--out", run, "--max-steps", "4", "--save-steps", "2", "--max-length", "64", "--threads", "1"]);
        OneLineError(result, $"{run}/checkpoint-2: could not save the checkpoint (No space left on device");
        Assert.Matches(@"[0-9.]+ MB free on its disk", result.Err);
        Assert.Empty(Directory.GetDirectories(run, ".*"));
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoint-2")));
    }
}
