using System.Text.Json.Nodes;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;

namespace Reins.Models.Tests;

/// <summary>Hugging Face checkpoint layouts beyond the single-file round trip: shards, hub GPT-2 names, classifiers, errors.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "reins-ckpt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
    }

    private static readonly int[] Ids = [3, 1, 4, 1, 5];

    [Fact]
    public void ShardedCheckpointWithIndexLoadsLikeTheSingleFile()
    {
        var model = CausalLanguageModel.Create(ModelConfig.Llama(vocab: 40, hidden: 16, layers: 2, heads: 4, maxPositions: 16, kvHeads: 2, tie: false), seed: 3);
        HfCheckpoint.Save(model, dir);
        // Split the parameters over two shards as transformers' save_pretrained(max_shard_size=…) would.
        var all = model.Parameters.ToList();
        var map = new JsonObject();
        for (int s = 0; s < 2; s++)
        {
            string file = $"model-0000{s + 1}-of-00002.safetensors";
            var part = all.Where((_, i) => i % 2 == s).ToList();
            SafeTensorsWriter.Write(Path.Combine(dir, file), part.Select(p => (p.Name!, p.Shape, p.Memory)));
            foreach (var p in part) map[p.Name!] = file;
        }
        File.Delete(Path.Combine(dir, "model.safetensors"));
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());

        var loaded = HfCheckpoint.Load(dir);
        Assert.Equal(model.Logits(new ModelInput(Ids, 1, 5)).ToArray(), loaded.Logits(new ModelInput(Ids, 1, 5)).ToArray());

        map[all[0].Name!] = "model-00002-of-00002.safetensors";
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), new JsonObject { ["weight_map"] = map.DeepClone() }.ToJsonString());
        var ex = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir));
        Assert.Contains(all[0].Name!, ex.Message);
    }

    [Fact]
    public void LargeModelsAreWrittenInShardsThatLoadBack()
    {
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 40, hidden: 16, layers: 2, heads: 2, maxPositions: 16), seed: 6);
        HfCheckpoint.Save(model, dir, maxShardBytes: 4_000);
        Assert.False(File.Exists(Path.Combine(dir, "model.safetensors")));
        var shards = Directory.GetFiles(dir, "model-*-of-*.safetensors");
        Assert.True(shards.Length > 2, $"{shards.Length} shards");
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "model.safetensors.index.json")))!;
        Assert.Equal(model.Parameters.Count, index["weight_map"]!.AsObject().Count);
        Assert.Equal(model.ParameterCount * 4, index["metadata"]!["total_size"]!.GetValue<long>());
        Assert.Equal(model.Logits(new ModelInput(Ids, 1, 5)).ToArray(), HfCheckpoint.Load(dir).Logits(new ModelInput(Ids, 1, 5)).ToArray());
    }

    [Theory]
    [InlineData(SafeTensorsDType.F32)]
    [InlineData(SafeTensorsDType.BF16)]
    public void ATensorLargerThanOneReadingPieceLoadsWhole(SafeTensorsDType dtype)
    {
        // Reads go in pieces (a span holds at most 2³¹ bytes): values on both sides of each cut must land in place.
        int count = SafeTensorsReader.Piece + 5;
        var rng = new Tensors.Rng(3);
        var values = Enumerable.Range(0, count).Select(_ => rng.NextNormal()).ToArray();
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "big.safetensors");
        SafeTensorsWriter.Write(path, [("big", [count], values.AsMemory()), ("after", [3], new float[] { 1, 2, 3 }.AsMemory())], dtype: dtype);
        var expected = dtype == SafeTensorsDType.F32 ? values : values.Select(v => Tensors.Kernels.Bf16.ToFloat(Tensors.Kernels.Bf16.FromFloat(v))).ToArray();
        var reader = new SafeTensorsReader(path);
        var read = new float[count];
        reader.ReadFloats("big", read);
        Assert.Equal(expected, read);
        Assert.Equal([1f, 2f, 3f], reader.ReadFloats("after"));
        Assert.Throws<ArgumentException>(() => reader.ReadFloats("after", new float[4]));
    }

    [Theory]
    [InlineData(ModelFamily.Gpt2, SafeTensorsDType.F32)]
    [InlineData(ModelFamily.Llama, SafeTensorsDType.F32)]
    [InlineData(ModelFamily.Llama, SafeTensorsDType.BF16)]
    public void WeightsReadStraightIntoBf16AreTheFrozenBf16ModelsWeights(ModelFamily family, SafeTensorsDType dtype)
    {
        var config = family == ModelFamily.Gpt2 ? ModelConfig.Gpt2(vocab: 40, hidden: 16, layers: 2, heads: 2, maxPositions: 16)
            : ModelConfig.Llama(vocab: 40, hidden: 16, layers: 2, heads: 4, maxPositions: 16, kvHeads: 2, tie: false);
        HfCheckpoint.Save(CausalLanguageModel.Create(config, seed: 6), dir, dtype: dtype);
        var converted = HfCheckpoint.Load(dir);
        converted.FreezeAsBf16();
        // Everything but the q projections (a predicate may keep weights float32, as LoRA's modules_to_save).
        var direct = HfCheckpoint.Load(dir, name => !name.Contains("q_proj"));
        var input = new ModelInput(Ids, 1, 5);
        foreach (var p in direct.Parameters)
        {
            bool held = p.Rank == 2 && !p.Name!.Contains("q_proj");
            Assert.Equal(held, p.Bf16Only);
            Assert.Equal(!held, p.RequiresGrad);
            if (!held && !converted[p.Name!].Bf16Only) Assert.Equal(converted[p.Name!].Span.ToArray(), p.Span.ToArray());
        }
        if (family == ModelFamily.Gpt2) Assert.Equal(converted.Logits(input).ToArray(), direct.Logits(input).ToArray());
        else
        {
            // The float32 q projections differ from the frozen model's rounded ones; rounding them gives its logits again.
            foreach (var p in direct.Parameters.Where(p => p.Name!.Contains("q_proj"))) { p.RequiresGrad = false; p.StoreAsBf16Only(); }
            Assert.Equal(converted.Logits(input).ToArray(), direct.Logits(input).ToArray());
        }
    }

    [Fact]
    public void AModuleToSaveReadAsBf16IsRefusedNamingIt()
    {
        var config = ModelConfig.Llama(vocab: 40, hidden: 16, layers: 1, heads: 4, maxPositions: 16, kvHeads: 2, tie: false);
        HfCheckpoint.Save(CausalLanguageModel.Create(config, seed: 6), dir);
        var ex = Assert.Throws<ArgumentException>(() => HfCheckpoint.Load(dir, _ => true).AddLora(new Peft.LoraConfig { R = 2, ModulesToSave = ["lm_head"] }, 1));
        Assert.Contains("lm_head.weight", ex.Message);
        // Kept float32 by the predicate, it trains.
        var model = HfCheckpoint.Load(dir, name => !name.StartsWith("lm_head", StringComparison.Ordinal));
        model.AddLora(new Peft.LoraConfig { R = 2, ModulesToSave = ["lm_head"] }, 1);
        Assert.True(model["lm_head.weight"].RequiresGrad);
    }

    [Fact]
    public void HubGpt2FileWithoutPrefixAndWithAttentionBuffersLoads()
    {
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 40, hidden: 16, layers: 2, heads: 2, maxPositions: 16), seed: 4);
        HfCheckpoint.Save(model, dir);
        // The original openai-community/gpt2 file: no "transformer." prefix, plus the causal-mask buffers.
        var tensors = model.Parameters.Select(p => (p.Name!["transformer.".Length..], p.Shape, p.Memory)).ToList();
        for (int i = 0; i < 2; i++)
        {
            tensors.Add(($"h.{i}.attn.bias", [1, 1, 16, 16], new float[256].AsMemory()));
            tensors.Add(($"h.{i}.attn.masked_bias", [1], new float[1].AsMemory()));
        }
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        var loaded = HfCheckpoint.Load(dir);
        Assert.Equal(model.Logits(new ModelInput(Ids, 1, 5)).ToArray(), loaded.Logits(new ModelInput(Ids, 1, 5)).ToArray());
    }

    [Fact]
    public void TensorTheConfigDoesNotDescribeIsAnErrorNamingIt()
    {
        var model = CausalLanguageModel.Create(ModelConfig.Llama(vocab: 40, hidden: 16, layers: 1, heads: 2, maxPositions: 16), seed: 4);
        HfCheckpoint.Save(model, dir);
        var tensors = model.Parameters.Select(p => (p.Name!, p.Shape, p.Memory)).Append(("model.layers.1.mlp.up_proj.weight", [2, 2], new float[4].AsMemory()));
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        var ex = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir));
        Assert.Contains("model.layers.1.mlp.up_proj.weight", ex.Message);
        Assert.Contains("model.safetensors", ex.Message);
    }

    [Fact]
    public void ShapeThatDisagreesWithConfigNamesFileAndTensor()
    {
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 40, hidden: 16, layers: 1, heads: 2, maxPositions: 16), seed: 4);
        HfCheckpoint.Save(model, dir);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        config["vocab_size"] = 41;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        var ex = Assert.ThrowsAny<Exception>(() => HfCheckpoint.Load(dir));
        Assert.Contains("transformer.wte.weight", ex.Message);
        Assert.Contains("model.safetensors", ex.Message);
    }

    [Theory]
    [InlineData("gpt2", "GPT2ForSequenceClassification")]
    [InlineData("qwen2", "Qwen2ForSequenceClassification")]
    public void SequenceClassifierRoundTripsWithScoreHeadAndNoLmHead(string type, string architecture)
    {
        var baseConfig = type == "gpt2"
            ? ModelConfig.Gpt2(vocab: 40, hidden: 16, layers: 1, heads: 2, maxPositions: 16)
            : ModelConfig.Llama(vocab: 40, hidden: 16, layers: 1, heads: 2, maxPositions: 16, tie: false) with { ModelType = "qwen2", QkvBias = true };
        var model = CausalLanguageModel.Create(baseConfig with { NumLabels = 1, PadTokenId = 0 }, seed: 5);
        Assert.True(model.HasParameter("score.weight"));
        Assert.False(model.HasParameter("lm_head.weight"));
        HfCheckpoint.Save(model, dir);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Equal(architecture, config["architectures"]![0]!.GetValue<string>());
        Assert.Single(config["id2label"]!.AsObject());

        var loaded = HfCheckpoint.Load(dir);
        Assert.Equal(1, loaded.Config.NumLabels);
        float[] mask = [0, 1, 1, 1, 1];
        Assert.Equal(model.Scores(ModelInput.Padded(Ids, 1, 5, mask)).ToArray(), loaded.Scores(ModelInput.Padded(Ids, 1, 5, mask)).ToArray());
        Assert.Throws<InvalidOperationException>(() => loaded.Logits(ModelInput.Of(Ids)));
    }

    [Fact]
    public void SaveWritesGenerationConfigAndExtraFilesAtomically()
    {
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 40, hidden: 16, layers: 1, heads: 2, maxPositions: 16) with { BosTokenId = 1, EosTokenId = 2 }, seed: 4);
        HfCheckpoint.Save(model, dir, tmp => File.WriteAllText(Path.Combine(tmp, "tokenizer.json"), "{}"));
        var generation = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "generation_config.json")))!;
        Assert.Equal(2, generation["eos_token_id"]!.GetValue<int>());
        Assert.True(File.Exists(Path.Combine(dir, "tokenizer.json")));
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(dir)!, $".{Path.GetFileName(dir)}.tmp-*"));

        // A failure while writing leaves the previous checkpoint untouched.
        Assert.Throws<IOException>(() => HfCheckpoint.Save(model, dir, _ => throw new IOException("disk full")));
        Assert.True(File.Exists(Path.Combine(dir, "tokenizer.json")));
    }

    [Theory]
    [InlineData("""{"rope_scaling":{"rope_type":"yarn","factor":4}}""", "rope_scaling.rope_type")]
    [InlineData("""{"rope_scaling":{"rope_type":"llama3","factor":8}}""", "rope_scaling.low_freq_factor")]
    [InlineData("""{"hidden_act":"gelu"}""", "hidden_act")]
    [InlineData("""{"architectures":["LlamaForQuestionAnswering"]}""", "architectures")]
    public void UnsupportedConfigFieldsAreNamed(string extra, string field)
    {
        var json = JsonNode.Parse("""{"model_type":"llama","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"max_position_embeddings":8}""")!.AsObject();
        foreach (var (k, v) in JsonNode.Parse(extra)!.AsObject()) json[k] = v?.DeepClone();
        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.FromHuggingFace(json, "c.json"));
        Assert.Contains(field, ex.Message);
        Assert.Contains("c.json", ex.Message);
    }
}
