using System.Text.Json.Nodes;
using Reins.Alignment.RewardModeling;
using Reins.Alignment.Sft;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.PreferenceModels;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Rewards.Tests;

/// <summary>
/// General preference models on preferences no scalar reward can hold: three response styles preferred in a cycle
/// (rock–paper–scissors), every relation equally often.
/// </summary>
public class GeneralPreferenceTrainingTests
{
    public GeneralPreferenceTrainingTests() => Engine.Threads = 1;

    private static readonly string[] Styles = ["abcdefg", "hijklmn", "opqrstu"];

    /// <summary>Balanced cyclic pairs: style i beats style i+1 (mod 3); random prompts and lengths.</summary>
    internal static string[] CyclicLines(int count, ulong seed)
    {
        var rng = new Rng(seed);
        string Text(int style) => TinySetup.RandomText(rng, Styles[style], 4 + rng.NextInt(7));
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            int winner = i % 3, loser = (winner + 1) % 3;
            string prompt = "q" + TinySetup.RandomText(rng, "xyz", 1 + rng.NextInt(3)) + ":";
            return new JsonObject { ["prompt"] = prompt, ["chosen"] = Text(winner), ["rejected"] = Text(loser), ["category"] = $"{winner}>{loser}" }.ToJsonString();
        })];
    }

    // A base pre-trained as a language model on the texts (as real GPMs start from one): one epoch of SFT on prompt+response.
    private static CausalLanguageModel PretrainedBase(TempDirectory dir, IReadOnlyList<PreferenceExample> pairs)
    {
        var texts = pairs.SelectMany(p => new[] { p.Chosen, p.Rejected }.Select(r => (Example)new LanguageModelingExample(
            TextOrConversation.FromText(p.Prompt.Text! + r.Text!)))).ToList();
        var sft = new SftTrainer(new SftConfig
        {
            Training = new() { OutputDir = dir.Path("sft"), NumTrainEpochs = 1, LearningRate = 3e-3f, PerDeviceTrainBatchSize = 16, Seed = 1, LoggingSteps = 1000 },
        }, TinySetup.LanguageModel(), TinySetup.Encoder, texts, null, null);
        sft.Train();
        return sft.Model;
    }

    private static RewardConfig Settings(string run) => TinySetup.Training(run).With(t => t with { MaxSteps = -1, NumTrainEpochs = 3, LearningRate = 1e-3f, LoggingSteps = 10 });

    [Fact]
    public void OnACycleTheDefaultGpmAndAPairModelFitHeldOutPairsWhereBradleyTerryCannot()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", CyclicLines(600, seed: 1));
        var eval = TinySetup.Load<PreferenceExample>(dir, "eval.jsonl", CyclicLines(300, seed: 2));
        var pretrained = PretrainedBase(dir, train);

        string gpm = dir.Path("gpm"), bt = dir.Path("bt");
        new RewardTrainer(Settings(gpm), pretrained.Clone(), TinySetup.Encoder, train, eval, TinySetup.Tokenizer.Save, generalPreference: true).Train();
        new RewardTrainer(Settings(bt), pretrained.Clone(), TinySetup.Encoder, train, eval, TinySetup.Tokenizer.Save).Train();
        double Accuracy(string run) => TinySetup.Value(TinySetup.Metrics(run).Last(r => r.ContainsKey("eval_accuracy")), "eval_accuracy");

        Assert.True(Accuracy(gpm) >= 0.9, $"GPM held-out accuracy {Accuracy(gpm):F3} < 0.9");
        // A scalar reward orders three styles, so it gets at most two of the three relations: 2/3 plus two standard errors.
        double bound = 2.0 / 3 + 2 * Math.Sqrt(2.0 / 9 / eval.Count);
        Assert.True(Accuracy(bt) <= bound, $"Bradley–Terry held-out accuracy {Accuracy(bt):F3} above {bound:F3} on a cycle");

        // The saved model is a preference model: settings beside the weights, the embedding mean as its centre, and
        // pair probabilities that order the held-out pairs as the logged accuracy says.
        var settings = GeneralPreferenceSettings.Load(gpm)!;
        Assert.Equal((2, 0.1f, true, false), (settings.ValueHeadDim, settings.Tau, settings.CenterEmbeddings, settings.PromptHead));
        var model = GeneralPreferenceModel.Load(gpm);
        Assert.Equal(RewardNormalization.Load(gpm)!.Mean, model.Center);
        var tokenizer = new DatasetTokenizer(TinySetup.Encoder);
        var pairs = eval.Select(e => tokenizer.Preference(e)!).ToArray();
        var forward = model.Probabilities(pairs, batchSize: 32);
        var backward = model.Probabilities([.. pairs.Select(p => new TokenizedPair(p.Rejected, p.Chosen))], batchSize: 7);
        Assert.Equal(Accuracy(gpm), forward.Count(p => p > 0.5f) / (double)pairs.Length, 9);
        for (int i = 0; i < pairs.Length; i++) Assert.Equal(1, forward[i] + backward[i], 4);
        Assert.True(TinySetup.Metrics(gpm).Where(r => r.ContainsKey("loss")).All(r => r.ContainsKey("prob")), "training rows log prob");

        // As a judge it gives the same probabilities for the same texts, re-encoded from scoring requests.
        var judge = new Judges.PreferenceModelJudge(model, TinySetup.Encoder);
        Sources.ScoringRequest Request(PreferenceExample e, TextOrConversation response) => new(e.Prompt.Text!, response.Text!, [], [], true, new Dictionary<string, System.Text.Json.JsonElement>());
        var judged = judge.Judge([.. eval.Take(20).Select(e => new Judges.PairToJudge(Request(e, e.Chosen), Request(e, e.Rejected)))]);
        for (int i = 0; i < 20; i++) Assert.Equal(forward[i], judged[i], 5);

        // A preference model is not a scalar reward: the reward-model loader refuses it.
        Assert.Contains("scores pairs", Assert.Throws<InvalidDataException>(() => RewardModel.Load(gpm)).Message);

        // The pair preference model reads both responses, so it can hold the cycle too.
        string pair = dir.Path("pair");
        new RewardTrainer(Settings(pair), pretrained.Clone(), TinySetup.Encoder, [.. train.Select(e => PairPreferenceModel.Joined(e, PairPreferenceModel.DefaultSeparator))],
            [.. eval.Select(e => PairPreferenceModel.Joined(e, PairPreferenceModel.DefaultSeparator))], d => { TinySetup.Tokenizer.Save(d); PairPreferenceModel.Save(d, PairPreferenceModel.DefaultSeparator); }).Train();
        Assert.True(Accuracy(pair) >= 0.9, $"pair model held-out accuracy {Accuracy(pair):F3} < 0.9");
        var pairJudge = Judges.PreferenceModelJudge.Load(pair);
        var pairs20 = eval.Take(20).Select(e => new Judges.PairToJudge(Request(e, e.Chosen), Request(e, e.Rejected))).ToArray();
        var there = pairJudge.Judge(pairs20);
        var back = pairJudge.Judge([.. pairs20.Select(p => new Judges.PairToJudge(p.Second, p.First))]);
        for (int i = 0; i < 20; i++) Assert.Equal(1, there[i] + back[i], 5);
        Assert.True(there.Count(p => p > 0.5f) >= 18, string.Join(", ", there));
        Assert.Contains("scores pairs", Assert.Throws<InvalidDataException>(() => RewardModel.Load(pair)).Message);
    }

    [Fact]
    public void PromptHeadGivesEveryPromptItsOwnEigenvaluesAndSavesThemInTheScoreHead()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", CyclicLines(48, seed: 3));
        string run = dir.Path("run");
        var config = Settings(run).With(t => t with { NumTrainEpochs = 1 }) with { ValueHeadDim = 4, AddPromptHead = true };
        new RewardTrainer(config, TinySetup.LanguageModel(), TinySetup.Encoder, train, null, TinySetup.Tokenizer.Save, generalPreference: true).Train();
        var model = GeneralPreferenceModel.Load(run);
        Assert.Equal(6, model.Network.Config.NumLabels);
        Assert.Equal(["v0", "v1", "v2", "v3", "prompt_gate0", "prompt_gate1"], RewardNormalization.Load(run)!.Labels);

        var tokenizer = new DatasetTokenizer(TinySetup.Encoder);
        var sequences = train.Take(6).Select(e => tokenizer.Preference(e)!.Chosen).ToArray();
        var (vectors, eigenvalues) = model.Embeddings(sequences, batchSize: 4);
        Assert.Equal(6 * 2, eigenvalues.Length);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(2, eigenvalues[2 * i] + eigenvalues[2 * i + 1], 4);
            Assert.Equal(1, Math.Sqrt(vectors.Skip(4 * i).Take(4).Sum(x => (double)x * x)), 4);
        }
        // The gates read the prompt: the same prompt gives the same eigenvalues whatever the response.
        var samePrompt = new[] { "abc", "hij", "opqrs" }.Select(r => tokenizer.Preference(new PreferenceExample(
            TextOrConversation.FromText("qxy:"), TextOrConversation.FromText(r), TextOrConversation.FromText("x")))!.Chosen).ToArray();
        var gates = model.Embeddings(samePrompt, batchSize: 3).Eigenvalues;
        for (int i = 1; i < 3; i++) Assert.Equal(gates[0], gates[2 * i], 5);
    }
}
