using Reins.Alignment.Dpo;
using Reins.Alignment.ExpertIteration;
using Reins.Alignment.Grpo;
using Reins.Alignment.IterativeDpo;
using Reins.Alignment.Kto;
using Reins.Alignment.OnlineDpo;
using Reins.Alignment.Ppo;
using Reins.Alignment.ReinforcePlusPlus;
using Reins.Alignment.RewardModeling;
using Reins.Alignment.Rloo;
using Reins.Alignment.Sft;
using Reins.Alignment.Training;

namespace Reins.Alignment.Tests;

/// <summary>Configs made of shared sections: flat keys for files and flags, each declared once, and settings a method ignores absent.</summary>
public class ConfigCompositionTests
{
    private static IReadOnlyList<string> Keys<T>() => [.. ConfigBinder.Fields<T>().Select(f => f.Key)];

    [Fact]
    public void EveryTrainerSeesItsSectionsAsFlatUniqueKeys()
    {
        foreach (var keys in new[]
        {
            Keys<SftConfig>(), Keys<DpoConfig>(), Keys<KtoConfig>(), Keys<RewardConfig>(), Keys<PpoConfig>(), Keys<GrpoConfig>(), Keys<RlooConfig>(),
            Keys<ReinforcePlusPlusConfig>(), Keys<ExpertIterationConfig>(), Keys<OnlineDpoConfig>(), Keys<IterativeDpoConfig>(),
            Keys<Reins.Alignment.ProcessRewardModeling.PrmConfig>(), Keys<CostConfig>(),
        })
        {
            Assert.Equal(keys.Count, keys.Distinct().Count());
            Assert.Equal("output_dir", keys[0]);
            Assert.Contains("eval_fraction", keys);
        }
        // The shared sections land in every method that has them, in declaration order.
        Assert.Equal(["temperature", "top_k", "top_p"], Keys<GrpoConfig>().Where(k => k.StartsWith('t')).Except(["target", "threshold", "torch_dtype"]));
        Assert.Contains("length_normalize", Keys<OnlineDpoConfig>());
        Assert.Contains("epsilon_high", Keys<RlooConfig>());
        Assert.Equal(Keys<DpoConfig>().Where(k => k is "loss_type" or "beta" or "rpo_alpha"), Keys<OnlineDpoConfig>().Where(k => k is "loss_type" or "beta" or "rpo_alpha"));
    }

    [Fact]
    public void SettingsAMethodWouldIgnoreAreNotOffered()
    {
        foreach (var ignored in new[] { "ent_coef", "adap_kl_ctrl", "target", "horizon" })
        {
            Assert.DoesNotContain(ignored, Keys<ExpertIterationConfig>());
            Assert.DoesNotContain(ignored, Keys<OnlineDpoConfig>());
            Assert.Contains(ignored, Keys<PpoConfig>());
        }
        Assert.DoesNotContain("max_length", Keys<IterativeDpoConfig>());
        // Config files written when they were offered (`reins config defaults` output) hold them at their defaults, which still
        // load; any other value is refused with the reason.
        var dir = Directory.CreateTempSubdirectory("reins-retired-").FullName;
        try
        {
            var file = Path.Combine(dir, "expert-iteration.json");
            File.WriteAllText(file, """{"learning_rate": 0.001, "ent_coef": 0, "adap_kl_ctrl": false, "target": 6.0, "horizon": 10000, "keep_top": 2}""");
            Assert.Equal(2, ConfigBinder.Resolve<ExpertIterationConfig>(file, new Dictionary<string, string>()).KeepTop);
            File.WriteAllText(file, """{"max_length": 512, "truncation_mode": "keep_end", "iterations": 2}""");
            Assert.Equal(2, ConfigBinder.Resolve<IterativeDpoConfig>(file, new Dictionary<string, string>()).Iteration.Iterations);
        }
        finally { Directory.Delete(dir, recursive: true); }
        var e = Assert.Throws<ArgumentException>(() => ConfigBinder.Resolve<ExpertIterationConfig>(null, new Dictionary<string, string> { ["ent_coef"] = "0.1" }));
        Assert.Contains("no entropy bonus", e.Message);
        Assert.Contains("unknown setting 'ent_cof'", Assert.Throws<ArgumentException>(() =>
            ConfigBinder.Resolve<ExpertIterationConfig>(null, new Dictionary<string, string> { ["ent_cof"] = "0" })).Message);
    }

    [Fact]
    public void AFlatKeyLandsInItsSectionWithoutTouchingASharedOne()
    {
        var dir = Directory.CreateTempSubdirectory("reins-config-").FullName;
        try
        {
            var file = Path.Combine(dir, "grpo.json");
            File.WriteAllText(file, """{"temperature": 0.7, "num_generations": 8, "epsilon_high": 0.28, "learning_rate": 0.001, "num_mini_batches": 2}""");
            var config = ConfigBinder.Resolve<GrpoConfig>(file, new Dictionary<string, string> { ["top_k"] = "50" });
            Assert.Equal(0.7f, config.Online.Sampling.Temperature);
            Assert.Equal(50, config.Online.Sampling.TopK);
            Assert.Equal(2, config.Online.NumMiniBatches);
            Assert.Equal(8, config.Group.NumGenerations);
            Assert.Equal(0.28f, config.Clip.High);
            Assert.Equal(0.001f, config.Training.LearningRate);
            var json = ConfigBinder.ToJson(config);
            Assert.Equal(0.7, json["temperature"]!.GetValue<double>(), 6);
            Assert.Equal(8, json["num_generations"]!.GetValue<int>());

            // Sections are records shared by a `with` copy; a key set on one config must not reach the other.
            var template = new DpoConfig();
            var sibling = template with { PrecomputeRefLogProbs = true };
            Assert.Same(template.Loss, sibling.Loss);
            var field = ConfigBinder.Fields<DpoConfig>().Single(f => f.Key == "beta");
            Assert.Equal(0.1f, (float)field.Get(sibling)!);
            var resolved = ConfigBinder.Resolve<DpoConfig>(null, new Dictionary<string, string> { ["beta"] = "0.5" });
            Assert.Equal(0.5f, resolved.Loss.Beta);
            Assert.Equal(0.1f, new DpoConfig().Loss.Beta);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void EvalFractionHoldsOutASeededShareOfTheTrainingSet()
    {
        var arguments = new TrainingArguments { EvalFraction = 0.25, Seed = 3 };
        int[] items = [.. Enumerable.Range(0, 20)];
        var (train, eval) = arguments.EvaluationSplit(items, null);
        Assert.Equal(5, eval!.Count);
        Assert.Equal(15, train.Count);
        Assert.Empty(train.Intersect(eval));
        Assert.Equal(eval, arguments.EvaluationSplit(items, null).Eval);
        Assert.NotEqual(eval, (arguments with { Seed = 4 }).EvaluationSplit(items, null).Eval);
        Assert.Same(items, new TrainingArguments().EvaluationSplit(items, null).Train);
        Assert.Contains("eval_fraction", Assert.Throws<ArgumentException>(() => arguments.EvaluationSplit(items, [1, 2])).Message);
        Assert.Contains("eval_fraction", Assert.Throws<ArgumentException>(() => (arguments with { EvalFraction = 1 }).Validate()).Message);
    }
}
