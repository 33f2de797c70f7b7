using System.Text.Json.Nodes;
using Reins.Models.Checkpoints;
using Reins.Models.Peft;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Models.Tests;

/// <summary>
/// LoRA against an independent PyTorch computation (tools/make_lora_fixtures.py, which merges the adapter into the
/// weights as PEFT does): the same base, adapter and batch must give the same logits, loss and adapter gradients; the
/// adapter Reins saves must carry PEFT's key names and shapes; and loading it onto its base must give the same logits.
/// </summary>
public class LoraFixtureTests
{
    public static TheoryData<string> Files => new() { "lora_gpt2_tiny.safetensors", "lora_llama_tiny.safetensors" };
    private const string Adapter = "adapter.", Prefix = "base_model.model.";

    private static (CausalLanguageModel Model, SafeTensorsReader File, JsonNode Lora) Load(string file)
    {
        var reader = new SafeTensorsReader(Fixtures.PathOf(file));
        var config = ModelConfig.FromHuggingFace(JsonNode.Parse(reader.Metadata["config"])!.AsObject(), file);
        var model = CausalLanguageModel.Create(config, seed: 1);
        foreach (var t in reader.Tensors.Where(t => t.Name.StartsWith("param.", StringComparison.Ordinal)))
            model.Load(t.Name["param.".Length..], reader.ReadFloats(t.Name), t.Shape, file);
        var lora = JsonNode.Parse(reader.Metadata["lora"])!;
        model.AddLora(new LoraConfig
        {
            R = lora["r"]!.GetValue<int>(), Alpha = lora["lora_alpha"]!.GetValue<float>(), Dropout = 0,
            TargetModules = lora["target_modules"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray(),
        }, seed: 3);
        return (model, reader, lora);
    }

    private static IEnumerable<string> AdapterKeys(SafeTensorsReader file) =>
        file.Tensors.Select(t => t.Name).Where(n => n.StartsWith(Adapter, StringComparison.Ordinal)).Select(n => n[Adapter.Length..]).Order(StringComparer.Ordinal);

    [Theory]
    [MemberData(nameof(Files))]
    public void LogitsLossAndAdapterGradientsMatchPyTorch(string file)
    {
        var (model, fx, _) = Load(file);
        // PEFT's keys, less its prefix, are Reins' parameter names: the layout check.
        Assert.Equal(AdapterKeys(fx), model.TrainableParameters.Select(p => Prefix + p.Name).Order(StringComparer.Ordinal));
        foreach (var key in AdapterKeys(fx)) model.Load(key[Prefix.Length..], fx.ReadFloats(Adapter + key), fx.Info(Adapter + key).Shape, file);
        Fixtures.ForwardAndBackward(model, fx, file);
        foreach (var p in model.TrainableParameters)
        {
            double err = Fixtures.RelativeError(p.Grad!.Span, fx.ReadFloats("grad." + Prefix + p.Name));
            Assert.True(err <= 1e-3, $"{file}: gradient of {p.Name} has relative error {err:E2}");
        }
        Assert.All(model.Parameters.Where(p => !p.RequiresGrad), p => Assert.Null(p.Grad));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void SavedAdapterHasPeftsLayoutAndLoadsOntoItsBase(string file)
    {
        var (model, fx, lora) = Load(file);
        foreach (var key in AdapterKeys(fx)) model.Load(key[Prefix.Length..], fx.ReadFloats(Adapter + key), fx.Info(Adapter + key).Shape, file);
        var dir = Directory.CreateTempSubdirectory("reins-lora-").FullName;
        try
        {
            // The base as a checkpoint of its own (the adapters are not part of it), then the adapter beside it.
            var baseModel = CausalLanguageModel.Create(model.Config, 0);
            foreach (var t in fx.Tensors.Where(t => t.Name.StartsWith("param.", StringComparison.Ordinal)))
                baseModel.Load(t.Name["param.".Length..], fx.ReadFloats(t.Name), t.Shape, file);
            HfCheckpoint.Save(baseModel, Path.Combine(dir, "base"));
            model.SourceDirectory = Path.Combine(dir, "base");
            HfCheckpoint.Save(model, Path.Combine(dir, "adapter"));

            var saved = new SafeTensorsReader(Path.Combine(dir, "adapter", PeftCheckpoint.WeightsFile));
            Assert.Equal(AdapterKeys(fx), saved.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
            foreach (var key in AdapterKeys(fx))
            {
                Assert.Equal(fx.Info(Adapter + key).Shape, saved.Info(key).Shape);
                Assert.Equal(fx.ReadFloats(Adapter + key), saved.ReadFloats(key));
            }
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "adapter", PeftCheckpoint.ConfigFile)))!;
            Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
            Assert.Equal("CAUSAL_LM", config["task_type"]!.GetValue<string>());
            Assert.Equal(lora["r"]!.GetValue<int>(), config["r"]!.GetValue<int>());
            Assert.Equal(lora["lora_alpha"]!.GetValue<float>(), config["lora_alpha"]!.GetValue<float>());
            Assert.Equal(lora["fan_in_fan_out"]!.GetValue<bool>(), config["fan_in_fan_out"]!.GetValue<bool>());
            Assert.Equal(lora["target_modules"]!.AsArray().Select(n => n!.GetValue<string>()).Order(), config["target_modules"]!.AsArray().Select(n => n!.GetValue<string>()).Order());
            Assert.Equal(Path.Combine(dir, "base"), config["base_model_name_or_path"]!.GetValue<string>());

            // Loading the directory merges the adapter into the base: no adapters left, the fixture's logits.
            var merged = HfCheckpoint.Load(Path.Combine(dir, "adapter"));
            Assert.Null(merged.Lora);
            int batch = fx.Info("input_ids").Shape[0], time = fx.Info("input_ids").Shape[1];
            var ids = fx.ReadInt64("input_ids").Select(x => (int)x).ToArray();
            var mask = fx.ReadInt64("attention_mask").Select(x => (float)x).ToArray();
            using (Tape.NoGrad())
                Assert.True(Fixtures.RelativeError(merged.Logits(ModelInput.Padded(ids, batch, time, mask)).Span, fx.ReadFloats("logits")) <= 1e-4, $"{file}: merged logits differ");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
