using System.Text.Json.Nodes;
using Reins.Alignment.RewardModeling;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Alignment.Tests;

/// <summary>A cost model learns a known rule of harm: ranking the more harmful response higher, and the sign of each response's safety.</summary>
public sealed class CostModelTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("reins-cm-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static TextOrConversation T(string text) => TextOrConversation.FromText(text);

    // Responses that mention a weapon are unsafe. Half the pairs set a safe response against an unsafe one; the other
    // half two unsafe ones, a bomb more harmful than a gun. Three responses in four are unsafe, so ranking alone would
    // leave the zero among the unsafe ones: only the loss's sign terms put it between safe and unsafe.
    private static List<Example> Records(int count, ulong seed, bool singles)
    {
        string[] safe = ["no thanks", "ask a doctor", "stay calm", "call help"], guns = ["get a gun", "gun it now"], bombs = ["make a bomb", "bomb them"];
        var rng = new Rng(seed);
        var records = new List<Example>();
        for (int i = 0; i < count; i++)
        {
            bool mixed = rng.NextInt(2) == 0, flip = rng.NextInt(2) == 0;
            string lessHarmful = mixed ? safe[rng.NextInt(4)] : guns[rng.NextInt(2)], moreHarmful = mixed ? (rng.NextInt(2) == 0 ? guns : bombs)[rng.NextInt(2)] : bombs[rng.NextInt(2)];
            bool lessSafe = mixed;
            if (singles) records.Add(flip ? new SafetyLabelExample(T($"q{i % 7}:"), T(lessHarmful), lessSafe) : new SafetyLabelExample(T($"q{i % 7}:"), T(moreHarmful), false));
            else records.Add(new SafetyPreferenceExample(T($"q{i % 7}:"), flip ? [T(moreHarmful), T(lessHarmful)] : [T(lessHarmful), T(moreHarmful)],
                flip ? [false, lessSafe] : [lessSafe, false], BetterId: rng.NextInt(2), SaferId: flip ? 1 : 0));
        }
        return records;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LearnsWhichResponsesAreUnsafeAndRanksThem(bool singles)
    {
        var bytes = Tokenizer.CreateByteLevel(260);
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 260, hidden: 32, layers: 2, heads: 4, maxPositions: 32) with { BosTokenId = bytes.BosId, EosTokenId = bytes.EosId, PadTokenId = bytes.PadId }, seed: 3);
        var config = new CostConfig
        {
            Training = new TrainingArguments { OutputDir = Path.Combine(dir, singles ? "cm-singles" : "cm-pairs"), NumTrainEpochs = 3, PerDeviceTrainBatchSize = 16, LearningRate = 3e-3f, LoggingSteps = 20 },
            MaxLength = 32,
        };
        // PKU-style pairs alone (the zero pinned by the pairwise loss's sign terms), or BeaverTails-style singles alone;
        // either way evaluated on pairs.
        var trainer = new CostModelTrainer(config, model, new TokenizerEncoder(bytes), Records(singles ? 400 : 300, 1, singles), Records(100, 3, singles: false), null);
        trainer.Train();
        var metrics = File.ReadLines(Path.Combine(config.Training.OutputDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Last(r => r["eval_safety_accuracy"] is not null);
        Assert.True(metrics["eval_safety_accuracy"]!.GetValue<double>() >= 0.95, metrics.ToJsonString());
        // Single labels say nothing of which of two unsafe responses is worse; pairs do.
        if (!singles) Assert.True(metrics["eval_accuracy"]!.GetValue<double>() >= 0.95, metrics.ToJsonString());
        Assert.InRange(metrics["eval_ece"]!.GetValue<double>(), 0, 1);
        // Saved as a one-output classifier labelled "cost", which scoring reads as a cost model.
        var saved = RewardModel.Load(config.Training.OutputDir);
        Assert.Equal([CostModelTrainer.Label], saved.Labels);
        Assert.Equal("GPT2ForSequenceClassification", saved.Network.Config.Architecture);
    }

    [Fact]
    public void RefusesRecordsThatCarryNoSafetyLabel()
    {
        var bytes = Tokenizer.CreateByteLevel(260);
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 260, hidden: 16, layers: 1, heads: 2, maxPositions: 32) with { BosTokenId = bytes.BosId, EosTokenId = bytes.EosId, PadTokenId = bytes.PadId }, seed: 3);
        var config = new CostConfig { Training = new() { OutputDir = Path.Combine(dir, "bad") }, MaxLength = 32 };
        var error = Assert.Throws<InvalidDataException>(() => new CostModelTrainer(config, model, new TokenizerEncoder(bytes), [new PreferenceExample(T("q"), T("a"), T("b")) { Line = 4 }], null, null));
        Assert.StartsWith("line 4: a cost model learns from PKU-SafeRLHF safety pairs", error.Message);
    }
}
