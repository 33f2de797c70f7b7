using System.Text.Json.Nodes;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Optim;

namespace Reins.Models.Tests;

/// <summary>
/// llm.c-style check against an independent PyTorch implementation (tools/make_fixtures.py): the same weights and
/// left-padded batch must give the same logits, loss, every parameter gradient and the weights after one AdamW step.
/// </summary>
public class ReferenceFixtureTests
{
    public static TheoryData<string> Files => new() { "gpt2_tiny.safetensors", "llama_tiny.safetensors", "llama3rope_tiny.safetensors", "qwen2_tiny.safetensors" };

    private static (CausalLanguageModel Model, SafeTensorsReader File) Load(string file)
    {
        var reader = new SafeTensorsReader(Fixtures.PathOf(file));
        var config = ModelConfig.FromHuggingFace(JsonNode.Parse(reader.Metadata["config"])!.AsObject(), file);
        var model = CausalLanguageModel.Create(config, seed: 1);
        var fixtureParams = reader.Tensors.Where(t => t.Name.StartsWith("param.")).Select(t => t.Name["param.".Length..]).ToHashSet();
        Assert.Equal(fixtureParams.OrderBy(x => x), model.Parameters.Select(p => p.Name!).OrderBy(x => x));
        foreach (var name in fixtureParams)
            model.Load(name, reader.ReadFloats("param." + name), reader.Info("param." + name).Shape, file);
        return (model, reader);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void LogitsLossGradientsAndAdamWStepMatchPyTorch(string file)
    {
        var (model, fx) = Load(file);
        Fixtures.ForwardAndBackward(model, fx, file);
        foreach (var p in model.Parameters)
        {
            double err = Fixtures.RelativeError(p.Grad!.Span, fx.ReadFloats("grad." + p.Name));
            Assert.True(err <= 1e-3, $"{file}: gradient of {p.Name} has relative error {err:E2}");
        }

        // Adam's first step is ≈ lr·sign(g), so on parameters whose true gradient is ~0 (a key bias cannot move a
        // softmax) rounding noise would decide the sign. Feeding PyTorch's gradients isolates the optimiser's arithmetic.
        foreach (var p in model.Parameters) fx.ReadFloats("grad." + p.Name).CopyTo(p.Grad!.Span);
        var h = JsonNode.Parse(fx.Metadata["adamw"])!;
        var opt = new AdamW(model.Parameters, h["lr"]!.GetValue<float>(), h["beta1"]!.GetValue<float>(), h["beta2"]!.GetValue<float>(),
            h["eps"]!.GetValue<float>(), h["weight_decay"]!.GetValue<float>());
        opt.Step();
        foreach (var p in model.Parameters)
        {
            double err = Fixtures.RelativeError(p.Span, fx.ReadFloats("after_adamw." + p.Name));
            Assert.True(err <= 1e-5, $"{file}: {p.Name} after AdamW has relative error {err:E2}");
        }
    }
}
