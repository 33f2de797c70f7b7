using System.Text.Json.Nodes;
using Reins.Alignment.ProcessRewardModeling;
using Reins.Alignment.Training;
using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Chat;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.ProcessRewards;
using Reins.Tensors;

namespace Reins.Alignment.Tests;

/// <summary>
/// Process reward models against an independent PyTorch implementation (tools/make_prm_fixtures.py): the text layout
/// and label placement, the …ForTokenClassification head under its Hugging Face names, logits, loss, every gradient
/// and the step scores; then a learning test on a rule whose labels depend on earlier steps.
/// </summary>
public sealed class ProcessRewardTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("reins-prm-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    public static TheoryData<string> Files => new() { "prm_gpt2_tiny.safetensors", "prm_llama_tiny.safetensors" };

    // ‖a − e‖∞ / ‖e‖∞.
    private static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, scale = 1e-12;
        for (int i = 0; i < expected.Length; i++) (diff, scale) = (Math.Max(diff, Math.Abs(actual[i] - expected[i])), Math.Max(scale, Math.Abs(expected[i])));
        return diff / scale;
    }

    /// <summary>The fixture's tokens: a text of space-separated ids encodes to those ids; "SEP" is the separator's ids.</summary>
    private sealed class PieceEncoder(int bos, int[] separator) : ITextEncoder
    {
        public int? BosId => bos;
        public int? EosId => null;
        public int? PadId => 0;
        public int[] Encode(string text) => text == "SEP" ? separator : [.. text.Split(' ').Select(int.Parse)];
        public (int[] Ids, bool[] AssistantMask) EncodeConversation(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => throw new NotSupportedException();
    }

    private static (CausalLanguageModel Model, SafeTensorsReader Fixture) Load(string file)
    {
        var fx = new SafeTensorsReader(Fixtures.PathOf(file));
        var config = ModelConfig.FromHuggingFace(JsonNode.Parse(fx.Metadata["config"])!.AsObject(), file);
        Assert.True(config.TokenClassification);
        var model = CausalLanguageModel.Create(config, seed: 1);
        var names = fx.Tensors.Where(t => t.Name.StartsWith("param.")).Select(t => t.Name["param.".Length..]).Order().ToArray();
        Assert.Equal(names, model.Parameters.Select(p => p.Name!).Order());
        foreach (var name in names) model.Load(name, fx.ReadFloats("param." + name), fx.Info("param." + name).Shape, file);
        return (model, fx);
    }

    private static int[] Ints(SafeTensorsReader fx, string name) => [.. fx.ReadInt64(name).Select(x => (int)x)];

    [Theory]
    [MemberData(nameof(Files))]
    public void LayoutLogitsLossGradientsAndStepScoresMatchPyTorch(string file)
    {
        var (model, fx) = Load(file);
        var encoder = new PieceEncoder(JsonNode.Parse(fx.Metadata["bos"])!.GetValue<int>(), [.. JsonNode.Parse(fx.Metadata["separator"])!.AsArray().Select(n => n!.GetValue<int>())]);
        string Text(JsonNode? ids) => string.Join(' ', ids!.AsArray().Select(n => n!.GetValue<int>()));
        var tokenizer = new DatasetTokenizer(encoder, new TokenizationOptions { MaxLength = null, AppendEos = false });
        var sequences = JsonNode.Parse(fx.Metadata["records"])!.AsArray().Select(r => tokenizer.Stepwise(new StepwiseExample(
            Text(r!["problem"]), [.. r["steps"]!.AsArray().Select(Text)], [.. r["labels"]!.AsArray().Select(l => l!.GetValue<bool>())]), "SEP")!).ToArray();
        var batch = new BatchCollator(new PaddingOptions(0)).Sft(sequences).Tokens;
        Assert.Equal(Ints(fx, "input_ids"), batch.InputIds);
        Assert.Equal(Ints(fx, "labels"), batch.Labels);
        Assert.Equal(fx.ReadInt64("attention_mask").Select(x => (float)x), batch.AttentionMask);

        using (var tape = new Tape())
        {
            var (logits, loss) = ProcessRewardModel.Forward(model, batch);
            Assert.True(RelativeError(logits.Span, fx.ReadFloats("logits")) <= 1e-4, $"{file}: logits differ");
            Assert.True(RelativeError(loss.Span, fx.ReadFloats("loss")) <= 1e-4, $"{file}: loss {loss.Item()} vs {fx.ReadFloats("loss")[0]}");
            var scores = Enumerable.Range(0, batch.Labels.Length).Where(i => batch.Labels[i] != TokenizedSequence.IgnoreIndex)
                .Select(i => ProcessRewardModel.Probability(logits.Span.Slice(2 * i, 2))).ToArray();
            Assert.True(RelativeError(scores, fx.ReadFloats("step_scores")) <= 1e-4, $"{file}: step scores differ");
            tape.Backward(loss);
        }
        foreach (var p in model.Parameters)
        {
            double err = RelativeError(p.Grad!.Span, fx.ReadFloats("grad." + p.Name));
            Assert.True(err <= 1e-3, $"{file}: gradient of {p.Name} has relative error {err:E2}");
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void SavedCheckpointsHaveTransformersNamesAndLoadBack(string file)
    {
        var (model, fx) = Load(file);
        var path = Path.Combine(dir, Path.GetFileNameWithoutExtension(file));
        HfCheckpoint.Save(model, path);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(path, "config.json")))!;
        var expected = JsonNode.Parse(fx.Metadata["config"])!;
        Assert.Equal(expected["architectures"]!.ToJsonString(), config["architectures"]!.ToJsonString());
        Assert.Equal(2, config["num_labels"]!.GetValue<int>());
        Assert.Equal(2, config["id2label"]!.AsObject().Count);
        var saved = new SafeTensorsReader(Path.Combine(path, "model.safetensors"));
        Assert.Equal(fx.Tensors.Where(t => t.Name.StartsWith("param.")).Select(t => t.Name["param.".Length..]).Order(), saved.Tensors.Select(t => t.Name).Order());
        var loaded = HfCheckpoint.Load(path);
        var input = ModelInput.Padded(Ints(fx, "input_ids"), fx.Info("input_ids").Shape[0], fx.Info("input_ids").Shape[1], [.. fx.ReadInt64("attention_mask").Select(x => (float)x)]);
        using var tape = new Tape(recordGradients: false);
        Assert.True(RelativeError(loaded.ScoresAllPositions(input).Span, fx.ReadFloats("logits")) <= 1e-4);
    }

    [Fact]
    public void AFreshHeadKeepsTheTrunkAndStartsWithZeroBias()
    {
        var lm = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 40, hidden: 16, layers: 1, heads: 2, maxPositions: 16), seed: 3);
        var prm = ProcessRewardModel.FromLanguageModel(lm, seed: 4);
        Assert.Equal("GPT2ForTokenClassification", prm.Config.Architecture);
        Assert.Equal(lm["transformer.h.0.attn.c_attn.weight"].ToArray(), prm["transformer.h.0.attn.c_attn.weight"].ToArray());
        Assert.All(prm["classifier.bias"].ToArray(), b => Assert.Equal(0f, b));
        Assert.Equal([2, 16], prm["classifier.weight"].Shape);
        Assert.False(lm.HasParameter("classifier.weight"));
        // A PRM given again continues with its own head.
        Assert.Equal(prm["classifier.weight"].ToArray(), ProcessRewardModel.FromLanguageModel(prm, seed: 9)["classifier.weight"].ToArray());
        Assert.Throws<ArgumentException>(() => new ProcessRewardModel(lm, new PieceEncoder(1, [5])));
    }

    // A rule whose labels depend on earlier steps: a step is right only if neither it nor any step before it is one of
    // the "bad" letters, so a good letter after a bad one must be judged wrong by looking back.
    private static List<StepwiseExample> Chains(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            int n = 2 + rng.NextInt(4);
            var steps = new string[n];
            var labels = new bool[n];
            bool ok = true;
            for (int s = 0; s < n; s++)
            {
                bool bad = rng.NextInt(5) == 0;
                steps[s] = ((char)((bad ? 'v' : 'a') + rng.NextInt(5))).ToString();
                labels[s] = ok &= !bad;
            }
            return new StepwiseExample("q" + (char)('a' + rng.NextInt(26)), steps, labels);
        })];
    }

    [Fact]
    public void LearnsARuleWhoseLabelsDependOnEarlierSteps()
    {
        var bytes = Tokenizer.CreateByteLevel(260);
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 260, hidden: 32, layers: 2, heads: 4, maxPositions: 32) with { BosTokenId = bytes.BosId, EosTokenId = bytes.EosId, PadTokenId = bytes.PadId }, seed: 5);
        var config = new PrmConfig
        {
            Training = new TrainingArguments { OutputDir = Path.Combine(dir, "rule"), NumTrainEpochs = 6, PerDeviceTrainBatchSize = 16, LearningRate = 3e-3f, LoggingSteps = 50, EvalSteps = 0 },
            MaxLength = 32,
        };
        var heldOut = Chains(200, seed: 2);
        var trainer = new PrmTrainer(config, model, new TokenizerEncoder(bytes), Chains(800, seed: 1), heldOut, null);
        trainer.Train();
        var metrics = File.ReadLines(Path.Combine(config.Training.OutputDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Last(row => row["eval_error_step_f1"] is not null);
        double f1 = metrics["eval_error_step_f1"]!.GetValue<double>();
        Assert.True(f1 >= 0.9, $"error-step F1 {f1:F3}, accuracy {metrics["eval_accuracy"]}");
        Assert.Equal("\n", JsonNode.Parse(File.ReadAllText(Path.Combine(config.Training.OutputDir, ProcessRewardModel.SettingsFileName)))!["step_separator"]!.GetValue<string>());
    }

    // Solutions of the copy task: every step repeats a letter and the last gives it as "#### X"; from the given step on,
    // the letter is another (a planted error when the record's answer is the first letter, a switch in training data).
    private static string[] Steps(char first, char then, int switchAt) =>
        [.. Enumerable.Range(0, 3).Select(s => (s < switchAt ? first : then).ToString()), $"#### {(switchAt <= 3 ? then : first)}"];

    [Fact]
    public void TheMathShepherdLabelerRecoversPlantedErrorsWithAGoodCompleter()
    {
        var bytes = Tokenizer.CreateByteLevel(260);
        var encoder = new TokenizerEncoder(bytes);
        TextOrConversation T(string text) => TextOrConversation.FromText(text);
        // A completer that continues the last step's letter: SFT on solutions that sometimes switch letters mid-way, so
        // copying the prompt's letter does not fit the data and copying the previous line does.
        var rng = new Rng(11);
        var sft = Enumerable.Range(0, 600).Select(_ =>
        {
            char a = (char)('a' + rng.NextInt(8)), b = (char)('a' + rng.NextInt(8));
            return (Example)new PromptCompletionExample(T($"{a}:"), T(string.Join('\n', Steps(a, b, rng.NextInt(3) == 0 ? rng.NextInt(3) : 4))));
        }).ToList();
        var policy = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 260, hidden: 64, layers: 2, heads: 4, maxPositions: 32) with { BosTokenId = bytes.BosId, EosTokenId = bytes.EosId, PadTokenId = bytes.PadId }, seed: 6);
        new Sft.SftTrainer(new Sft.SftConfig
        {
            Training = new TrainingArguments { OutputDir = Path.Combine(dir, "completer"), NumTrainEpochs = 10, PerDeviceTrainBatchSize = 16, LearningRate = 3e-3f, LoggingSteps = 50 },
            MaxLength = 32,
        }, policy, encoder, sft, null, null).Train();

        var verifier = Reins.Rewards.Sources.VerifiableRewards.Create("exact_match");
        var labeler = new MathShepherdLabeler(policy, encoder, ids => bytes.Decode(ids, skipSpecialTokens: true), verifier,
            new Models.Generation.SamplingOptions { NumReturnSequences = 8, MaxNewTokens = 16, Seed = 3 });
        int agree = 0, total = 0;
        var plant = new Rng(12);
        for (int i = 0; i < 24; i++)
        {
            char answer = (char)('a' + plant.NextInt(8)), wrong = (char)('a' + (answer - 'a' + 1 + plant.NextInt(7)) % 8);
            int errorAt = i % 4 == 3 ? 4 : plant.NextInt(3);
            var record = new PromptOnlyExample(T($"{answer}:")) { Extra = new Dictionary<string, System.Text.Json.JsonElement> { ["answer"] = System.Text.Json.JsonSerializer.SerializeToElement(answer.ToString()) } };
            var labelled = labeler.Label(record, i, 0, Steps(answer, wrong, errorAt));
            var hard = labelled.Labels(StepEstimate.Hard);
            for (int s = 0; s < 4; s++, total++) if ((bool)hard[s] == s < errorAt) agree++;
            Assert.All(labelled.Labels(StepEstimate.Soft), e => Assert.InRange((double)e, 0, 1));
        }
        Assert.True(agree >= 0.9 * total, $"the labels agree with the planted errors on {agree} of {total} steps");
    }
}
