using System.CommandLine;
using System.Text.Json.Nodes;
using Reins.Cli.Commands;
using Reins.Models.Checkpoints;
using Reins.Tensors.Kernels;

namespace Reins.Cli.Tests;

/// <summary>`reins model convert`: a checkpoint written as bfloat16 (as most Hub checkpoints are) and back.</summary>
public sealed class ModelConvertTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), $"reins-convert-{Guid.NewGuid():N}");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static void Run(params string[] args) =>
        Assert.Equal(0, new RootCommand { ModelCommand.Create() }.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));

    [Fact]
    public void ACheckpointConvertsToBfloat16AndBack()
    {
        string f32 = Path.Combine(dir, "f32"), bf16 = Path.Combine(dir, "bf16"), back = Path.Combine(dir, "back");
        Run("model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "64", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "2", "--out", f32);
        Run("model", "convert", "--model", f32, "--out", bf16, "--torch-dtype", "bfloat16");
        // The weights are torch's rounding of the float32 ones, stored as BF16 (half the bytes), and the config says so.
        var (original, converted) = (HfCheckpoint.Load(f32), HfCheckpoint.Load(bf16));
        foreach (var (p, q) in original.Parameters.Zip(converted.Parameters))
            Assert.Equal(p.Span.ToArray().Select(v => Bf16.ToFloat(Bf16.FromFloat(v))), q.Span.ToArray());
        Assert.Equal("bfloat16", JsonNode.Parse(File.ReadAllText(Path.Combine(bf16, "config.json")))!["torch_dtype"]!.GetValue<string>());
        Assert.Contains("\"BF16\"", File.ReadAllText(Path.Combine(bf16, "model.safetensors"))[..4096]);
        double ratio = new FileInfo(Path.Combine(bf16, "model.safetensors")).Length / (double)new FileInfo(Path.Combine(f32, "model.safetensors")).Length;
        Assert.InRange(ratio, 0.49, 0.52);
        // The tokenizer goes along, so the converted checkpoint is whole.
        Assert.Equal(File.ReadAllText(Path.Combine(f32, "tokenizer.json")), File.ReadAllText(Path.Combine(bf16, "tokenizer.json")));
        // bf16 values are exact in float32: converting back changes nothing more.
        Run("model", "convert", "--model", bf16, "--out", back, "--torch-dtype", "float32");
        foreach (var (p, q) in converted.Parameters.Zip(HfCheckpoint.Load(back).Parameters)) Assert.Equal(p.Span.ToArray(), q.Span.ToArray());
        Assert.Equal("float32", JsonNode.Parse(File.ReadAllText(Path.Combine(back, "config.json")))!["torch_dtype"]!.GetValue<string>());
    }
}
