using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Kernels;
using Reins.Models.Peft;
using Reins.Tensors.Optim;

namespace Reins.Models.Tests;

public class ModelTests
{
    public static TheoryData<string> Families => new() { "gpt2", "llama" };

    private static ModelConfig Config(string family) => family == "gpt2"
        ? ModelConfig.Gpt2(vocab: 40, hidden: 16, layers: 2, heads: 2, maxPositions: 32)
        : ModelConfig.Llama(vocab: 40, hidden: 16, layers: 2, heads: 4, maxPositions: 32, kvHeads: 2, tie: false);

    [Fact]
    public void ParameterCountMatchesTheBuiltModel()
    {
        ModelConfig[] configs =
        [
            Config("gpt2"), Config("llama"), Config("gpt2") with { NumLabels = 1 }, Config("llama") with { NumLabels = 3 },
            Config("gpt2") with { TieWordEmbeddings = false }, Config("llama") with { TieWordEmbeddings = true, QkvBias = true, OutputBias = true },
        ];
        foreach (var config in configs) Assert.Equal(CausalLanguageModel.Create(config, seed: 0).ParameterCount, config.ParameterCount());
        // GPT-2 small as OpenAI published it.
        Assert.Equal(124_439_808, ModelConfig.Gpt2(50257, 768, 12, 12, 1024).ParameterCount());
    }

    private static float[] TrainLosses(ModelConfig config, int threads, int steps = 4)
    {
        int saved = Engine.Threads;
        Engine.Threads = threads;
        try
        {
            var model = CausalLanguageModel.Create(config, seed: 7);
            var opt = new AdamW(model.Parameters, 1e-2f);
            var rng = new Rng(3);
            var ids = Enumerable.Range(0, 2 * 12).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
            var losses = new float[steps];
            for (int s = 0; s < steps; s++)
            {
                using (var tape = new Tape())
                {
                    var loss = model.Loss(new ModelInput(ids, 2, 12), ids.Skip(1).Append(-100).ToArray());
                    losses[s] = loss.Item();
                    opt.ZeroGrad();
                    tape.Backward(loss);
                }
                opt.Step();
            }
            return losses;
        }
        finally { Engine.Threads = saved; }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void SameSeedGivesBitIdenticalTrainingAndThreadsDoNotChangeIt(string family)
    {
        var a = TrainLosses(Config(family), 1);
        Assert.Equal(a, TrainLosses(Config(family), 1));
        Assert.Equal(a, TrainLosses(Config(family), 2));
        Assert.True(a[^1] < a[0], $"loss should fall: {string.Join(", ", a)}");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void LeftPaddingDoesNotChangeTheRealTokensLogits(string family)
    {
        var model = CausalLanguageModel.Create(Config(family), seed: 1);
        int[] tokens = [5, 9, 2, 33, 17];
        var plain = model.Logits(new ModelInput(tokens, 1, 5)).ToArray();
        int[] padded = [0, 0, 0, .. tokens];
        float[] mask = [0, 0, 0, 1, 1, 1, 1, 1];
        var logits = model.Logits(ModelInput.Padded(padded, 1, 8, mask)).ToArray();
        var realPart = logits.AsSpan(3 * 40).ToArray();
        for (int i = 0; i < plain.Length; i++) Assert.True(Math.Abs(plain[i] - realPart[i]) < 1e-5, $"logit {i}: {plain[i]} vs {realPart[i]}");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void CheckpointRoundTripGivesIdenticalLogits(string family)
    {
        var model = CausalLanguageModel.Create(Config(family), seed: 2);
        var dir = Path.Combine(Path.GetTempPath(), "reins-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            HfCheckpoint.Save(model, dir);
            Assert.True(File.Exists(Path.Combine(dir, "config.json")));
            var loaded = HfCheckpoint.Load(dir);
            int[] ids = [1, 2, 3, 4];
            Assert.Equal(model.Logits(new ModelInput(ids, 1, 4)).ToArray(), loaded.Logits(new ModelInput(ids, 1, 4)).ToArray());
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void TruncatedSafetensorsFileIsReportedWithItsName()
    {
        var model = CausalLanguageModel.Create(Config("gpt2"), seed: 2);
        var dir = Path.Combine(Path.GetTempPath(), "reins-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            HfCheckpoint.Save(model, dir);
            var file = Path.Combine(dir, "model.safetensors");
            var bytes = File.ReadAllBytes(file);
            File.WriteAllBytes(file, bytes[..(bytes.Length - 100)]);
            var ex = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir));
            Assert.Contains("model.safetensors", ex.Message);
            Assert.Contains("truncated", ex.Message);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void LastPositionsGiveTheFullForwardsValuesAndParameterGradients(string family)
    {
        // Rows padded on both sides, as rollouts are: the last block run on the last 4 positions only must give those
        // positions' hidden states, and the same gradient in every parameter, as the whole forward sliced afterwards.
        var model = CausalLanguageModel.Create(Config(family), seed: 6);
        int[] ids = [0, 0, 5, 9, 2, 33, 17, 0, 4, 8, 15, 16, 23, 42 % 40, 1, 7];
        float[] mask = [0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1];
        var weights = Tensor.Normal(new Rng(8), 0, 1, 2, 4, 16);
        (float[] Hidden, float[][] Grads) Run(bool narrowed)
        {
            foreach (var p in model.Parameters) p.Grad?.Span.Clear();
            using var tape = new Tape();
            var hidden = narrowed ? model.Hidden(ModelInput.Padded(ids, 2, 8, mask) with { KeepLast = 4 }) : Ops.Slice(model.Hidden(ModelInput.Padded(ids, 2, 8, mask)), 1, 4, 4);
            tape.Backward(Ops.Sum(hidden * weights));
            return (hidden.ToArray(), model.Parameters.Select(p => p.Grad?.ToArray() ?? new float[p.Size]).ToArray());
        }
        var (full, fullGrads) = Run(narrowed: false);
        var (narrow, narrowGrads) = Run(narrowed: true);
        Assert.Equal(full.Length, narrow.Length);
        for (int i = 0; i < full.Length; i++) Assert.True(Math.Abs(full[i] - narrow[i]) <= 1e-5f, $"hidden {i}: {full[i]} vs {narrow[i]}");
        Assert.Contains(fullGrads[0], g => g != 0);
        for (int p = 0; p < fullGrads.Length; p++)
            for (int i = 0; i < fullGrads[p].Length; i++)
                Assert.True(Math.Abs(fullGrads[p][i] - narrowGrads[p][i]) <= 1e-5f * (1 + Math.Abs(fullGrads[p][i])),
                    $"parameter {model.Parameters[p].Name}[{i}]: {fullGrads[p][i]} vs {narrowGrads[p][i]}");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void ScoresReadTheLastRealTokenWhicheverRowEndsFirst(string family)
    {
        // Scores narrow the last block to the positions from the earliest last token on; right-padded rows of
        // different lengths must still score as each would alone.
        var model = CausalLanguageModel.Create(Config(family) with { NumLabels = 1 }, seed: 9);
        int[] ids = [5, 9, 2, 0, 0, 0, 4, 8, 15, 16, 23, 1, 7, 3, 3, 3, 3, 0];
        float[] mask = [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
        var scores = model.Scores(ModelInput.Padded(ids, 3, 6, mask)).ToArray();
        int[] lengths = [3, 6, 5];
        for (int b = 0; b < 3; b++)
        {
            var alone = model.Scores(new ModelInput(ids.AsSpan(b * 6, lengths[b]).ToArray(), 1, lengths[b])).Item();
            Assert.True(Math.Abs(alone - scores[b]) < 1e-5, $"row {b}: {scores[b]} in the batch vs {alone} alone");
        }
    }

    [Fact]
    public void LastPositionsOutsideTheSequenceOrWithPackedDocumentsAreRefused()
    {
        var model = CausalLanguageModel.Create(Config("gpt2"), seed: 1);
        int[] ids = [1, 2, 3, 4];
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Hidden(new ModelInput(ids, 1, 4) with { KeepLast = 5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Hidden(new ModelInput(ids, 1, 4) with { KeepLast = -1 }));
        var ex = Assert.Throws<ArgumentException>(() => model.Hidden(new ModelInput(ids, 1, 4) with { KeepLast = 2, DocumentIds = [0, 0, 1, 1] }));
        Assert.Contains("documentIds", ex.Message);
    }

    [Fact]
    public void ScoreHeadReadsTheLastRealTokenUnderEitherPadding()
    {
        var model = CausalLanguageModel.Create(Config("llama") with { NumLabels = 1 }, seed: 4);
        int[] tokens = [5, 9, 2];
        var expected = model.Scores(ModelInput.Of(tokens)).Item();
        var left = model.Scores(ModelInput.Padded([0, 0, .. tokens], 1, 5, [0, 0, 1, 1, 1])).Item();
        var right = model.Scores(ModelInput.Padded([.. tokens, 0, 0], 1, 5, [1, 1, 1, 0, 0])).Item();
        Assert.True(Math.Abs(expected - left) < 1e-5 && Math.Abs(expected - right) < 1e-5, $"{expected} vs left {left}, right {right}");
        // The hidden state read is the last real token's, wherever the padding sits.
        var hidden = model.Hidden(ModelInput.Padded([.. tokens, 0, 0], 1, 5, [1, 1, 1, 0, 0]));
        Assert.Equal(Ops.Slice(hidden, 1, 2, 1).ToArray(), CausalLanguageModel.AtLastToken(hidden, [1, 1, 1, 0, 0], 5).ToArray());
        Assert.Throws<ArgumentException>(() => CausalLanguageModel.AtLastToken(hidden, [0, 0, 0, 0, 0], 5));
    }

    [Fact]
    public void ConfigErrorsNameTheField()
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse("""{"model_type":"llama","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":3,"intermediate_size":16,"max_position_embeddings":8}""")!.AsObject();
        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.FromHuggingFace(json, "my/config.json"));
        Assert.Contains("my/config.json", ex.Message);
        Assert.Contains("num_key_value_heads", ex.Message);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void GradientCheckpointingAndRecomputedAttentionGiveTheSameLossAndGradients(string family)
    {
        var model = CausalLanguageModel.Create(Config(family), seed: 3);
        // Left padding and packed documents, so the recomputation must rebuild the mask and segments as the forward saw them.
        int[] ids = [0, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
        var input = new ModelInput(ids, 2, 8) { AttentionMask = [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], DocumentIds = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1] };
        int[] targets = [.. ids.Select((t, i) => i % 8 < 2 ? -100 : (t * 7 + i) % 40)];
        (float Loss, Dictionary<string, float[]> Grads) Run(bool checkpoint, bool recompute = false)
        {
            model.GradientCheckpointing = checkpoint;
            model.RecomputeAttention = recompute;
            foreach (var p in model.Parameters) p.ZeroGrad();
            using var tape = new Tape();
            var loss = model.Loss(input, targets);
            tape.Backward(loss);
            return (loss.Item(), model.Parameters.ToDictionary(p => p.Name!, p => p.Grad!.Span.ToArray()));
        }
        var plain = Run(false);
        // The recomputations run the same kernels on the same inputs: every gradient is the same, bit for bit.
        foreach (var other in new[] { Run(true), Run(false, recompute: true), Run(true, recompute: true) })
        {
            Assert.Equal(plain.Loss, other.Loss);
            foreach (var (name, grad) in plain.Grads) Assert.Equal(grad, other.Grads[name]);
        }
        Assert.Contains(plain.Grads.Values, g => g.Any(v => v != 0));
        // Outside training (no tape recording) the model runs as before.
        using (new Tape(recordGradients: false)) Assert.Equal(plain.Loss, model.Loss(input, targets).Item());
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void ALoraBaseHeldAsBf16TrainsAsTheBaseRoundedToBf16(string family)
    {
        // Two copies of one model, its weights rounded to bf16 values: one keeps them as float32, the other drops the
        // float32 and holds its frozen base as bf16 only. 32 rows take the packed GEMM in both, whose panels then hold the
        // same floats (GPT-2's Conv1D copies are stored transposed and packed back), so loss and adapter gradients agree
        // bit for bit, and the base is half the bytes.
        var config = Config(family);
        var source = CausalLanguageModel.Create(config, seed: 3);
        CausalLanguageModel Copy()
        {
            var m = CausalLanguageModel.Create(config, seed: 9);
            foreach (var p in source.Parameters)
                m.Load(p.Name!, [.. p.Span.ToArray().Select(v => Bf16.ToFloat(Bf16.FromFloat(v)))], p.Shape, "test");
            m.AddLora(new LoraConfig { R = 4, Alpha = 8, Dropout = 0, TargetModules = ["all-linear"] }, seed: 5);
            foreach (var a in m.TrainableParameters) a.Span.Fill(0.01f * (a.Name!.Length % 7 - 3));
            return m;
        }
        var (float32, bf16) = (Copy(), Copy());
        long freed = bf16.StoreFrozenWeightsAsBf16();
        Assert.Equal(2L * bf16.Parameters.Where(p => p is { Rank: 2, RequiresGrad: false }).Sum(p => (long)p.Size), freed);
        Assert.True(freed > 0);
        int[] ids = [.. Enumerable.Range(0, 32).Select(i => (i * 7 + 3) % 40)];
        int[] targets = [.. ids.Select((t, i) => (t * 5 + i) % 40)];
        (float Loss, Dictionary<string, float[]> Grads) Run(CausalLanguageModel m)
        {
            using var tape = new Tape();
            var loss = m.Loss(new ModelInput(ids, 2, 16), targets);
            tape.Backward(loss);
            return (loss.Item(), m.TrainableParameters.ToDictionary(p => p.Name!, p => p.Grad!.Span.ToArray()));
        }
        var (expected, actual) = (Run(float32), Run(bf16));
        Assert.Equal(expected.Loss, actual.Loss);
        foreach (var (name, grad) in expected.Grads) Assert.Equal(grad, actual.Grads[name]);
        Assert.Contains(expected.Grads.Values, g => g.Any(v => v != 0));
        // Generation's bf16 copies leave a bf16-only base as it is; anything reading its float32 values is told why it cannot.
        bf16.KeepBf16Weights();
        bf16.DropBf16Weights();
        Assert.Equal(expected.Loss, Run(bf16).Loss);
        var frozen = bf16.Parameters.First(p => p.Bf16Only);
        Assert.Contains("bfloat16 only", Assert.Throws<InvalidOperationException>(() => frozen.Span.ToArray()).Message);
        Assert.Throws<InvalidOperationException>(() => bf16.TrainableParameters.First().StoreAsBf16Only());
    }
}
