using System.Text.Json.Nodes;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Optim;

namespace Reins.Models.Tests;

/// <summary>
/// bf16 training (activations kept for the backward pass stored as bfloat16) against PyTorch
/// (tools/make_bf16_fixtures.py): the same models and batch trained with saved-tensor hooks packing each block's saved
/// tensors to bfloat16, in float32, and under torch.autocast(bfloat16). Which tensors each engine saves differs, so the
/// agreement is to a stated tolerance; the forward pass is float32 in both modes, so the first loss agrees exactly.
/// </summary>
public class Bf16TrainingFixtureTests
{
    public static TheoryData<string> Files => new() { "bf16_gpt2_train.safetensors", "bf16_llama_train.safetensors" };

    private static (float[] Losses, Dictionary<string, float[]> FirstGradients) Train(string file, bool bf16)
    {
        var fx = new SafeTensorsReader(Fixtures.PathOf(file));
        var model = CausalLanguageModel.Create(ModelConfig.FromHuggingFace(JsonNode.Parse(fx.Metadata["config"])!.AsObject(), file), seed: 1);
        foreach (var t in fx.Tensors.Where(t => t.Name.StartsWith("param.", StringComparison.Ordinal)))
            model.Load(t.Name["param.".Length..], fx.ReadFloats(t.Name), t.Shape, file);
        model.Bf16Activations = bf16;
        var adamw = JsonNode.Parse(fx.Metadata["adamw"])!;
        float Get(string key) => adamw[key]!.GetValue<float>();
        var optimizer = new AdamW(model.Parameters, Get("lr"), Get("beta1"), Get("beta2"), Get("eps"), Get("weight_decay"));
        int batch = fx.Info("input_ids").Shape[0], time = fx.Info("input_ids").Shape[1];
        var ids = fx.ReadInt64("input_ids").Select(x => (int)x).ToArray();
        var mask = fx.ReadInt64("attention_mask").Select(x => (float)x).ToArray();
        var targets = fx.ReadInt64("targets").Select(x => (int)x).ToArray();
        var losses = new float[fx.Info("loss.fp32").Shape[0]];
        Dictionary<string, float[]>? first = null;
        for (int step = 0; step < losses.Length; step++)
        {
            using (var tape = new Tape())
            {
                var logits = model.Logits(ModelInput.Padded(ids, batch, time, mask));
                var loss = Ops.CrossEntropy(Ops.Reshape(logits, batch * time, model.Config.VocabSize), targets);
                optimizer.ZeroGrad();
                tape.Backward(loss);
                losses[step] = loss.Item();
            }
            first ??= model.Parameters.ToDictionary(p => p.Name!, p => p.Grad!.Span.ToArray());
            optimizer.Step();
        }
        return (losses, first!);
    }

    private static double CurveGap(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    [Theory]
    [MemberData(nameof(Files))]
    public void Bf16CurveTracksPyTorchsPackedAndAutocastCurves(string file)
    {
        var fx = new SafeTensorsReader(Fixtures.PathOf(file));
        var (fp32, fp32Grads) = Train(file, bf16: false);
        var (bf16, bf16Grads) = Train(file, bf16: true);
        var torchFp32 = fx.ReadFloats("loss.fp32");
        var torchPacked = fx.ReadFloats("loss.saved_bf16");
        var torchAutocast = fx.ReadFloats("loss.autocast_bf16");
        double gradFp32 = fp32Grads.Max(g => Fixtures.RelativeError(g.Value, fx.ReadFloats("grad.fp32." + g.Key)));
        double gradPacked = bf16Grads.Max(g => Fixtures.RelativeError(g.Value, fx.ReadFloats("grad.saved_bf16." + g.Key)));
        double gradShift = bf16Grads.Max(g => Fixtures.RelativeError(g.Value, fp32Grads[g.Key]));
        Console.WriteLine($"{file}: fp32 curve gap {CurveGap(fp32, torchFp32):E2}, grad {gradFp32:E2}; bf16 vs packed {CurveGap(bf16, torchPacked):E2}, grad {gradPacked:E2}; vs autocast {CurveGap(bf16, torchAutocast):E2}; vs own fp32 {CurveGap(bf16, fp32):E2}, grad shift {gradShift:E2}");
        Assert.True(CurveGap(fp32, torchFp32) <= 1e-4, $"{file}: float32 curve off PyTorch's");
        Assert.True(gradFp32 <= 1e-3, $"{file}: float32 gradients off PyTorch's");
        // The forward pass is float32 in both modes; only what the backward pass reads is rounded.
        Assert.Equal(fp32[0], bf16[0]);
        Assert.True(gradShift > 1e-5, $"{file}: bf16 storage left every gradient as float32's — nothing was packed");
        Assert.True(gradPacked <= 1e-2, $"{file}: bf16 gradients off PyTorch's packed ones by {gradPacked:E2}");
        Assert.True(CurveGap(bf16, torchPacked) <= 2e-3, $"{file}: bf16 curve off PyTorch's packed one");
        Assert.True(CurveGap(bf16, torchAutocast) <= 5e-3, $"{file}: bf16 curve off PyTorch's autocast one");
    }
}
