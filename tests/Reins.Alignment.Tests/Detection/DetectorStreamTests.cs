using Reins.Alignment.Detection;
using Reins.Alignment.RewardModeling;
using Reins.Alignment.Tests.Online;
using Reins.Feedback.Datasets;
using Reins.Models.Transformers;
using Reins.Tensors;
using Xunit.Abstractions;

namespace Reins.Alignment.Tests.Detection;

/// <summary>
/// JailbreaksOverTime's replay on a stream whose drift is known. Benign prompts are strings of a–d; the first
/// jailbreak style carries "gg", a mutation carries "gg" and "hh" together, and the new style that follows carries
/// "hh" alone. A detector trained on the first style misses the new one; self-training, which flags the mutation by its
/// "gg" and learns from its own labels, catches it — as does the true-label detector.
/// </summary>
public class DetectorStreamTests(ITestOutputHelper output)
{
    private static string Benign(Rng rng) => new([.. Enumerable.Range(0, 8).Select(_ => (char)('a' + rng.NextInt(4)))]);

    private static string With(Rng rng, string marker)
    {
        var s = Benign(rng);
        int at = rng.NextInt(s.Length - 2);
        return s[..at] + marker + s[(at + 2)..];
    }

    // A week of 40 benign prompts and 20 jailbreaks in the given styles, spread over the week.
    private static IEnumerable<StreamPrompt> Week(Rng rng, int week, params string[] styles)
    {
        var monday = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero).AddDays(7 * week);
        for (int i = 0; i < 60; i++)
        {
            bool jailbreak = i % 3 == 2;
            var text = jailbreak ? With(rng, styles[i % styles.Length]) : Benign(rng);
            if (jailbreak && styles[i % styles.Length] == "gghh") text = With(rng, "gg")[..4] + "hh" + Benign(rng)[..2];
            yield return new StreamPrompt(monday.AddHours(i * 2.5), text, jailbreak, week * 100 + i);
        }
    }

    [Fact]
    public void SelfTrainingCatchesTheNewStyleTheStaticDetectorMisses()
    {
        var rng = new Rng(7);
        var detector = CausalLanguageModel.Create(TinyTask.Model().Config with { NumLabels = 1 }, 3);
        // The detector as deployed: trained on benign prompts and the first style only.
        var initial = Enumerable.Range(0, 200).Select(i => new SafetyLabelExample(TextOrConversation.FromText(""), TextOrConversation.FromText(i % 2 == 0 ? Benign(rng) : With(rng, "gg")), IsSafe: i % 2 == 0)).ToArray();
        var dir = Directory.CreateTempSubdirectory("reins-detector-").FullName;
        try
        {
            var trainer = new CostModelTrainer(new CostConfig { Training = new() { OutputDir = Path.Combine(dir, "initial"), NumTrainEpochs = 3, LearningRate = 3e-3f, PerDeviceTrainBatchSize = 8 } },
                detector, new TinyTask(), initial, null, null);
            trainer.Train();
            detector = trainer.Model;
            var stream = Week(rng, 0, "gg").Concat(Week(rng, 1, "gg", "gghh")).Concat(Week(rng, 2, "gghh")).Concat(Week(rng, 3, "hh")).ToArray();
            var settings = new DetectorStreamSettings { SelfTrain = true, TrueLabels = true, TargetFpr = 0.01, Epochs = 3, LearningRate = 3e-3f };
            var results = new DetectorStream(settings, new TinyTask()).Run(detector, stream, dir);
            foreach (var r in results) output.WriteLine(string.Join(", ", DetectorStream.Row(r).Select(kv => $"{kv.Key} {kv.Value}")));
            DetectorPeriodResult At(int period, string name) => results[period].Detectors[name];

            // The first week only calibrates; each week is scored before its labels reach any detector.
            Assert.All(results[0].Detectors.Values, d => Assert.True(double.IsNaN(d.Fnr)));
            Assert.Equal((0, 60), (At(1, DetectorStream.SelfTrained).TrainedOn, At(1, DetectorStream.TrueLabelled).TrainedOn));
            Assert.Equal(At(1, DetectorStream.Static).Fnr, At(1, DetectorStream.SelfTrained).Fnr);
            // The new style: the static detector misses most of it, self-training recovers much of it, true labels all but a little.
            double fnrStatic = At(3, DetectorStream.Static).Fnr, fnrSelf = At(3, DetectorStream.SelfTrained).Fnr, fnrTrue = At(3, DetectorStream.TrueLabelled).Fnr;
            Assert.True(fnrStatic >= 0.8 && fnrSelf <= fnrStatic - 0.4 && fnrTrue <= 0.1, $"week 4 FNR: static {fnrStatic}, self-trained {fnrSelf}, true labels {fnrTrue}");
            Assert.True(results[3].SelfLabelAccuracy >= 0.8, $"self-label accuracy {results[3].SelfLabelAccuracy}");

            // Stopped after week 2's retraining and resumed, the replay gives every week's numbers as the whole run did.
            using var stop = new CancellationTokenSource();
            var resumedDir = Path.Combine(dir, "resumed");
            Assert.ThrowsAny<OperationCanceledException>(() => new DetectorStream(settings, new TinyTask()).Run(detector, stream, resumedDir, r => { if (r.Period == 1) stop.Cancel(); }, stop.Token));
            var resumed = new DetectorStream(settings, new TinyTask()).Run(detector, stream, resumedDir, resume: true);
            static string Rows(IReadOnlyList<PeriodResult> rs) => string.Join("\n", rs.Select(r => System.Text.Json.JsonSerializer.Serialize(DetectorStream.Row(r))));
            Assert.Equal(Rows(results), Rows(resumed));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
