using System.Text.Json.Nodes;
using Reins.Alignment.RewardModeling;
using Reins.Feedback.Datasets;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Rewards.Tests;

/// <summary>
/// MaxMin-RLHF's EM mixture on annotators from two planted groups: eight prefer the response with more 'a', four the one
/// with more 'b'.
/// </summary>
public class MixtureTrainingTests
{
    private readonly Xunit.Abstractions.ITestOutputHelper output;

    public MixtureTrainingTests(Xunit.Abstractions.ITestOutputHelper output) => (Engine.Threads, this.output) = (1, output);

    private const int Annotators = 12, Minority = 4;

    private static bool InMinority(int annotator) => annotator >= Annotators - Minority;

    /// <summary>
    /// <paramref name="perAnnotator"/> pairs from each annotator, labelled by its group's rule; annotators numbered from
    /// <paramref name="first"/>. With <paramref name="opposed"/> the minority prefers fewer 'a' instead of more 'b', so
    /// the groups disagree on every pair.
    /// </summary>
    internal static string[] GroupLines(int perAnnotator, ulong seed, int first = 0, bool opposed = false)
    {
        var rng = new Rng(seed);
        var lines = new List<string>();
        for (int u = first; u < first + Annotators; u++)
            for (int made = 0; made < perAnnotator;)
            {
                string x = TinySetup.RandomText(rng, "abcde", 4 + rng.NextInt(7)), y = TinySetup.RandomText(rng, "abcde", 4 + rng.NextInt(7));
                bool minority = InMinority(u - first);
                char letter = minority && !opposed ? 'b' : 'a';
                int cx = TinySetup.Count(x, letter), cy = TinySetup.Count(y, letter);
                if (cx == cy) continue;
                var (chosen, rejected) = (cx > cy) != (minority && opposed) ? (x, y) : (y, x);
                lines.Add(new JsonObject { ["prompt"] = TinySetup.Prompt, ["chosen"] = chosen, ["rejected"] = rejected, ["annotator"] = $"u{u}" }.ToJsonString());
                made++;
            }
        return [.. lines];
    }

    [Fact]
    public void TheEmMixtureRecoversThePlantedGroupsAndServesEachOne()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", GroupLines(40, seed: 1));
        var eval = TinySetup.Load<PreferenceExample>(dir, "eval.jsonl", GroupLines(20, seed: 2));
        string run = dir.Path("mixture");
        var config = TinySetup.Training(run).With(t => t with { MaxSteps = -1, NumTrainEpochs = 6, LoggingSteps = 10 });
        var trainer = new MixtureRewardTrainer(config, TinySetup.LanguageModel(), TinySetup.Encoder, train, eval, TinySetup.Tokenizer.Save);
        trainer.Train();

        // Purity of the hard assignment up to relabelling the components.
        var assignments = MixtureAssignments.Load(run).Hard;
        Assert.Equal(Annotators, assignments.Count);
        int same = Enumerable.Range(0, Annotators).Count(u => assignments[$"u{u}"] == assignments["u0"] == !InMinority(u));
        double purity = Math.Max(same, Annotators - same) / (double)Annotators;
        Assert.True(purity >= 0.9, $"assignment accuracy {purity:F2}: {string.Join(", ", assignments.Select(a => $"{a.Key}→{a.Value}"))}");

        // Each group's held-out pairs are ordered by its own component.
        var final = TinySetup.Metrics(run).Last(r => r.ContainsKey("eval_accuracy"));
        foreach (var k in new[] { 0, 1 })
            Assert.True(TinySetup.Value(final, $"eval_accuracy/group_{k}") >= 0.85, final.ToJsonString());
        Assert.Equal(0, TinySetup.Value(final, "eval_unknown_annotators"));

        // A single Bradley–Terry model fits the majority and fails the minority, whose rule it cannot also hold.
        var single = dir.Path("single");
        new RewardTrainer(TinySetup.Training(single).With(t => t with { MaxSteps = -1, NumTrainEpochs = 6 }), TinySetup.LanguageModel(), TinySetup.Encoder, train, null, null).Train();
        var bt = RewardModel.Load(single);
        var mixture = RewardModel.Load(run);
        Assert.Equal(MixtureRewardTrainer.GroupLabels(2), mixture.Labels);
        var tokenizer = new Reins.Feedback.Tokenization.DatasetTokenizer(TinySetup.Encoder);
        var minority = eval.Where(e => InMinority(int.Parse(e.Extra["annotator"].GetString()![1..]))).Select(e => tokenizer.Preference(e)!).ToArray();
        double Accuracy(RewardModel model, int label) =>
            minority.Count(p => model.RawScores([p.Chosen], 1)[label] > model.RawScores([p.Rejected], 1)[label]) / (double)minority.Length;
        int minorityComponent = assignments[$"u{Annotators - 1}"];
        output.WriteLine($"purity {purity:F2}; eval accuracy by group {TinySetup.Value(final, "eval_accuracy/group_0"):F3} / {TinySetup.Value(final, "eval_accuracy/group_1"):F3}; " +
            $"minority accuracy: mixture {Accuracy(mixture, minorityComponent):F3}, single BT {Accuracy(bt, 0):F3}");
        Assert.True(Accuracy(mixture, minorityComponent) >= Accuracy(bt, 0) + 0.1, $"minority accuracy: mixture {Accuracy(mixture, minorityComponent):F2}, single BT {Accuracy(bt, 0):F2}");
    }

    [Fact]
    public void AUserConditionedRewardServesEachGroupAndNewUsersFromAFewLabels()
    {
        using var dir = new TempDirectory();
        // Opposed groups: the majority prefers more 'a', the minority fewer, so no single reward serves both.
        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", GroupLines(40, seed: 1, opposed: true));
        // Held out: the training annotators' new pairs, and twelve annotators never seen (u100 …), split as the groups are.
        var eval = TinySetup.Load<PreferenceExample>(dir, "eval.jsonl", [.. GroupLines(10, seed: 2, opposed: true), .. GroupLines(24, seed: 5, first: 100, opposed: true)]);
        string run = dir.Path("user");
        var config = TinySetup.Training(run).With(t => t with { MaxSteps = -1, NumTrainEpochs = 10, LoggingSteps = 10 }) with { UserContextPairs = 8 };
        new UserConditionedRewardTrainer(config, TinySetup.LanguageModel(), TinySetup.Encoder, train, eval, TinySetup.Tokenizer.Save).Train();
        var final = TinySetup.Metrics(run).Last(r => r.ContainsKey("eval_accuracy"));
        output.WriteLine($"user-conditioned: known users {TinySetup.Value(final, "eval_accuracy"):F3}, new users {TinySetup.Value(final, "eval_accuracy/new_users"):F3}");
        Assert.True(TinySetup.Value(final, "eval_accuracy") >= 0.85, final.ToJsonString());
        Assert.True(TinySetup.Value(final, "eval_accuracy/new_users") >= 0.85, final.ToJsonString());

        // Saved, it serves a new minority user from eight of their labels: their held-out pairs ordered by their rule.
        var model = UserConditionedReward.Load(run);
        Assert.Contains("user-conditioned", Assert.Throws<InvalidDataException>(() => RewardModel.Load(run)).Message);
        var tokenizer = new Reins.Feedback.Tokenization.DatasetTokenizer(TinySetup.Encoder);
        var minority = eval.Where(e => e.Extra["annotator"].GetString() == $"u{100 + Annotators - 1}").Select(e => tokenizer.Preference(e)!).ToArray();
        var latent = model.Latent(minority[..8], batchSize: 8);
        var rest = minority[8..];
        var chosen = model.Score([.. rest.Select(p => p.Chosen)], latent, 8);
        var rejected = model.Score([.. rest.Select(p => p.Rejected)], latent, 8);
        int right = rest.Select((_, i) => chosen[i] > rejected[i]).Count(c => c);
        Assert.True(right >= 0.85 * rest.Length, $"{right} of {rest.Length}");
        // The same user served with the majority's latent instead gets most of them wrong: the latent carries the preference.
        var majority = eval.Where(e => e.Extra["annotator"].GetString() == "u100").Select(e => tokenizer.Preference(e)!).ToArray();
        var other = model.Latent(majority[..8], batchSize: 8);
        var chosenOther = model.Score([.. rest.Select(p => p.Chosen)], other, 8);
        var rejectedOther = model.Score([.. rest.Select(p => p.Rejected)], other, 8);
        int wrongLatent = rest.Select((_, i) => chosenOther[i] > rejectedOther[i]).Count(c => c);
        Assert.True(wrongLatent <= 0.2 * rest.Length, $"with the majority's latent {wrongLatent} of {rest.Length} are still ordered the minority's way");
    }

    [Fact]
    public void AssignmentsResumeAndMissingAnnotatorsAreNamed()
    {
        using var dir = new TempDirectory();
        var train = TinySetup.Load<PreferenceExample>(dir, "train.jsonl", GroupLines(6, seed: 3));
        RewardConfig Settings(string run) => TinySetup.Training(run, steps: 12).With(t => t with { SaveSteps = 3, LoggingSteps = 1, PerDeviceTrainBatchSize = 8 }) with { MixtureEmInterval = 4 };
        MixtureRewardTrainer Trainer(string run) => new(Settings(run), TinySetup.LanguageModel(), TinySetup.Encoder, train, null, null);
        string whole = dir.Path("whole"), split = dir.Path("split");
        Trainer(whole).Train();
        using (var cancel = new CancellationTokenSource())
        {
            var stop = new Reins.Alignment.Training.SynchronousProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>(p => { if (p.Step == 6) cancel.Cancel(); });
            Assert.True(Trainer(split).Train(cancellation: cancel.Token, progress: stop).Interrupted);
        }
        Trainer(split).Train(resume: true);
        Assert.Equal(File.ReadAllLines(Path.Combine(whole, "metrics.jsonl")), File.ReadAllLines(Path.Combine(split, "metrics.jsonl")));
        Assert.Equal(File.ReadAllText(Path.Combine(whole, MixtureAssignments.FileName)), File.ReadAllText(Path.Combine(split, MixtureAssignments.FileName)));

        var unlabelled = TinySetup.Load<PreferenceExample>(dir, "plain.jsonl", TinySetup.PreferenceLines(4, seed: 4));
        var error = Assert.Throws<InvalidDataException>(() => new MixtureRewardTrainer(Settings(dir.Path("x")), TinySetup.LanguageModel(), TinySetup.Encoder, unlabelled, null, null));
        Assert.Contains("line 1", error.Message);
        Assert.Contains("annotator", error.Message);
    }
}
