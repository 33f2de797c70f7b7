using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Reins.Cli.Commands;
using Reins.Cli.Commands.Training;
using Reins.Models.Checkpoints;

namespace Reins.Cli.Tests;

/// <summary>
/// TRL's --bf16 on a trainer: the run stores its saved activations as bfloat16, so its first loss (a float32 forward
/// pass) is the float32 run's exactly and the later ones move off it by rounding, not by more; frozen weights (a LoRA
/// base, a reference) are held as bf16, which on a bf16 checkpoint loses nothing.
/// </summary>
public sealed class Bf16CommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("reins-bf16-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private static int Run(params string[] args)
    {
        var root = new RootCommand { ModelCommand.Create(), SftCommand.Create(), DpoCommand.Create() };
        var previous = Console.Out;
        Console.SetOut(new StringWriter(CultureInfo.InvariantCulture));
        try { return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }); }
        finally { Console.SetOut(previous); }
    }

    private double[] Losses(string run) =>
        [.. File.ReadLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Where(n => n["loss"] is not null).Select(n => n["loss"]!.GetValue<double>())];

    [Fact]
    public void SftWithBf16TracksTheFloat32Run()
    {
        string baseModel = Path.Combine(dir, "base"), train = Path.Combine(dir, "sft.jsonl");
        // Wide enough (64 features × 8 rows × ~30 tokens) that each block's activations reach the packing size.
        Assert.Equal(0, Run("model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "64", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "3", "--out", baseModel));
        File.WriteAllLines(train, Enumerable.Range(0, 32).Select(i =>
            new JsonObject { ["prompt"] = $"n{i}=", ["completion"] = new string((char)('a' + i % 5), 24) }.ToJsonString()));
        string Sft(string name, params string[] extra)
        {
            var run = Path.Combine(dir, name);
            Assert.Equal(0, Run([.. new[] { "sft", "--model", baseModel, "--train", train, "--out", run, "--max-steps", "6", "--learning-rate", "3e-3", "--logging-steps", "1", "--threads", "1" }, .. extra]));
            return run;
        }
        var fp32 = Losses(Sft("fp32"));
        var bf16Run = Sft("bf16", "--bf16");
        var bf16 = Losses(bf16Run);
        Assert.Equal(6, bf16.Length);
        Assert.Equal(fp32[0], bf16[0]);
        Assert.True(fp32[^1] < fp32[0] - 0.1, "the float32 run does not learn");
        Assert.NotEqual(fp32[1..], bf16[1..]);
        Assert.All(fp32.Zip(bf16), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-2 * p.First, $"bf16 loss {p.Second} vs float32 {p.First}"));
        Assert.Contains("\"bf16\": true", JsonNode.Parse(File.ReadAllText(Path.Combine(bf16Run, "config.json")))!["reins_run_settings"]!.ToJsonString(new() { WriteIndented = true }));
    }

    [Fact]
    public void FrozenWeightsHeldAsBf16LoseNothingOnABf16CheckpointAndResumeExactly()
    {
        string fp32Base = Path.Combine(dir, "base32"), baseModel = Path.Combine(dir, "base16");
        Assert.Equal(0, Run("model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "64", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "4", "--out", fp32Base));
        Assert.Equal(0, Run("model", "convert", "--model", fp32Base, "--out", baseModel, "--torch-dtype", "bfloat16"));
        string sftData = Path.Combine(dir, "sft.jsonl"), pairs = Path.Combine(dir, "pairs.jsonl");
        File.WriteAllLines(sftData, Enumerable.Range(0, 32).Select(i =>
            new JsonObject { ["prompt"] = $"n{i}=", ["completion"] = new string((char)('a' + i % 5), 24) }.ToJsonString()));
        File.WriteAllLines(pairs, Enumerable.Range(0, 16).Select(i =>
            new JsonObject { ["prompt"] = $"q{i}:", ["chosen"] = new string('y', 20), ["rejected"] = new string('n', 20) }.ToJsonString()));
        string[] Sft(string name, int steps, params string[] extra) =>
            ["sft", "--model", baseModel, "--train", sftData, "--out", Path.Combine(dir, name), "--max-steps", steps.ToString(CultureInfo.InvariantCulture),
             "--learning-rate", "3e-3", "--logging-steps", "1", "--threads", "1", "--use-peft", "--lora-dropout", "0", .. extra];

        // The LoRA base held as bf16: the first loss is the float32 run's exactly (the base's values are bf16 already).
        Assert.Equal(0, Run(Sft("lora32", 6)));
        Assert.Equal(0, Run(Sft("lora16", 6, "--bf16", "--save-steps", "2")));
        var (lora32, lora16) = (Losses(Path.Combine(dir, "lora32")), Losses(Path.Combine(dir, "lora16")));
        Assert.Equal(lora32[0], lora16[0]);
        Assert.All(lora32.Zip(lora16), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-2 * p.First, $"bf16 loss {p.Second} vs float32 {p.First}"));
        // The same run stopped at its step-2 checkpoint and resumed ends where the uninterrupted one did.
        string resumed = Path.Combine(dir, "resumed"), checkpoint = Path.Combine(resumed, "checkpoint-2");
        Directory.CreateDirectory(checkpoint);
        foreach (var file in Directory.GetFiles(Path.Combine(dir, "lora16"))) File.Copy(file, Path.Combine(resumed, Path.GetFileName(file)));
        foreach (var file in Directory.GetFiles(Path.Combine(dir, "lora16", "checkpoint-2"))) File.Copy(file, Path.Combine(checkpoint, Path.GetFileName(file)));
        // What the stopped run had logged: its first two steps.
        var metrics = Path.Combine(resumed, "metrics.jsonl");
        File.WriteAllLines(metrics, File.ReadLines(metrics).Where(l => JsonNode.Parse(l)!["step"]!.GetValue<long>() <= 2).ToList());
        Assert.Equal(0, Run(Sft("resumed", 6, "--bf16", "--save-steps", "2", "--resume")));
        Assert.Equal(lora16, Losses(Path.Combine(dir, "resumed")));

        // A full-model DPO run's reference held as bf16: on a bf16 checkpoint it is the policy exactly, so the first loss is ln 2.
        Assert.Equal(0, Run("dpo", "--model", baseModel, "--train", pairs, "--out", Path.Combine(dir, "dpo"), "--max-steps", "2", "--logging-steps", "1", "--threads", "1", "--bf16"));
        Assert.Equal(Math.Log(2), Losses(Path.Combine(dir, "dpo"))[0], 6);
    }

    [Fact]
    public void TorchDtypeBfloat16WritesTheFinalModelAsBf16AndKeepsCheckpointsFloat32()
    {
        string baseModel = Path.Combine(dir, "base"), train = Path.Combine(dir, "sft.jsonl");
        Assert.Equal(0, Run("model", "init", "--arch", "gpt2", "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "5", "--out", baseModel));
        File.WriteAllLines(train, Enumerable.Range(0, 16).Select(i => new JsonObject { ["prompt"] = $"n{i}=", ["completion"] = "abc" }.ToJsonString()));
        string Sft(string name, params string[] extra)
        {
            var run = Path.Combine(dir, name);
            Assert.Equal(0, Run([.. new[] { "sft", "--model", baseModel, "--train", train, "--out", run, "--max-steps", "4", "--save-steps", "2", "--threads", "1" }, .. extra]));
            return run;
        }
        string float32 = Sft("f32"), bf16 = Sft("bf16", "--torch-dtype", "bfloat16");
        var (full, half) = (new SafeTensorsReader(Path.Combine(float32, "model.safetensors")), new SafeTensorsReader(Path.Combine(bf16, "model.safetensors")));
        // Nothing frozen in full fine-tuning, so the runs train alike; the bf16 file is the float32 one rounded as torch rounds.
        foreach (var t in full.Tensors)
        {
            Assert.Equal(SafeTensorsDType.BF16, half.Info(t.Name).DType);
            Assert.Equal(full.ReadFloats(t.Name).Select(v => Reins.Tensors.Kernels.Bf16.ToFloat(Reins.Tensors.Kernels.Bf16.FromFloat(v))), half.ReadFloats(t.Name));
        }
        Assert.Equal("bfloat16", JsonNode.Parse(File.ReadAllText(Path.Combine(bf16, "config.json")))!["torch_dtype"]!.GetValue<string>());
        Assert.Equal("float32", JsonNode.Parse(File.ReadAllText(Path.Combine(float32, "config.json")))!["torch_dtype"]!.GetValue<string>());
        // A checkpoint keeps the float32 masters, so resuming from it is exact.
        Assert.All(new SafeTensorsReader(Path.Combine(bf16, "checkpoint-2", "model.safetensors")).Tensors, t => Assert.Equal(SafeTensorsDType.F32, t.DType));
        // auto keeps the loaded checkpoint's dtype: the bf16 run's output, trained on, is written as bf16 again.
        var again = Path.Combine(dir, "auto");
        Assert.Equal(0, Run("sft", "--model", bf16, "--train", train, "--out", again, "--max-steps", "1", "--threads", "1", "--torch-dtype", "auto"));
        Assert.All(new SafeTensorsReader(Path.Combine(again, "model.safetensors")).Tensors, t => Assert.Equal(SafeTensorsDType.BF16, t.DType));
        var refused = Assert.ThrowsAny<Exception>(() => Run("sft", "--model", baseModel, "--train", train, "--out", Path.Combine(dir, "bad"), "--torch-dtype", "float16"));
        Assert.Contains("torch_dtype", refused.Message);
    }
}
